"""The approval gate: an environment with `require_approval = true` is deployed only when
someone said yes, and the gate is passed before the first write.

| how the deploy runs          | what happens                                                |
|------------------------------|-------------------------------------------------------------|
| on a terminal                | asks "Deploy VERSION to ENV? [y/N]"; anything but y/yes stops |
| with `--yes`                 | proceeds: the approval was given before the command ran      |
| neither (CI, a pipe, a cron) | refuses (ApprovalError, exit 16), naming `--yes` as the fix   |

In GitHub Actions the approval is the workflow's environment protection: the production job
runs under `environment: production`, whose required reviewers approve the job before any of
its steps start, and only that job passes `--yes`. Shipyard cannot see the reviewers' decision
itself; the job not running until they gave it is what makes `--yes` there an approval.
"""

from __future__ import annotations

from collections.abc import Callable

from shipyard.config import EnvironmentSettings
from shipyard.errors import ApprovalError

_YES = ("y", "yes")


def require_approval(environment: str, settings: EnvironmentSettings, *, yes: bool,
                     interactive: bool, ask: Callable[[str], bool], version: str = "") -> str:
    """Pass the gate or raise ApprovalError. Returns a line saying how it was passed ("" when
    the environment needs no approval), for the deploy's output and its record."""
    if not settings.require_approval:
        return ""
    if yes:
        return f"{environment} requires approval: given by --yes"
    what = f"{version} to {environment}" if version else f"to {environment}"
    if not interactive:
        raise ApprovalError(
            f"{environment} requires approval (require_approval = true) and this run cannot "
            "ask (no terminal); approve it and pass --yes: in GitHub Actions, run the job "
            f"under `environment: {environment}` with required reviewers, who approve it "
            "before it starts")
    if not ask(f"Deploy {what}? [y/N]"):
        raise ApprovalError(f"the deploy {what} was not approved (the answer was no); "
                            "nothing was changed; run it again and answer y to deploy")
    return f"{environment} requires approval: given at the prompt"


def is_yes(answer: str) -> bool:
    """The prompt's answer: y or yes (any case) approves; anything else, empty included,
    does not."""
    return answer.strip().lower() in _YES
