"""`shipyard deploy`, `rollback` and `status` (issue 10), being built; nothing here is a
command yet. So far:

- `rolling`: start a rolling deployment (register, update) and keep our deployment's id;
- `watch`: follow a rolling or blue/green deployment to its verdict
  (`shipyard.domain.deployment`), reporting what is new;
- `explain`: why a rolling deployment failed: events, stopped tasks, exit codes, log lines;
- `approval`: the gate before the first write of an environment with `require_approval`;
- `health`: the check through the service's URL once a deployment succeeded.
"""
