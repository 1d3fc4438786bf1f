"""`shipyard deploy`, `rollback` and `status` (issue 10), being built: so far the watch loop
(`watch`) that follows a rolling or blue/green deployment to its verdict."""
