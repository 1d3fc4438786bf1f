"""`shipyard rehearse EVENT`: the GamePulse workflow played locally against the sandbox.

- `workflow`: the file read into jobs and steps, every expression parsed up front;
- `expressions`: the `${{ }}` evaluator (what it supports, and that it refuses the rest);
- `events`: the five events, their `GITHUB_*` context and payload, and the `on:` filters;
- `actions`: the local equivalent of each `uses:` step;
- `shell`: a `run:` step's process, its bound, and the files Actions reads after it;
- `runner`: the jobs in dependency order, the step-to-step wiring, the reports.
"""

# How a job's or step's result is marked in a line of progress (the CLI's and the demo's).
MARKS = {"success": "ok  ", "failure": "FAIL", "skipped": "skip", "cancelled": "CANC"}
