"""What counts as a deployment's success or failure, and how often to look: pure rules.

The tools users have today say "success" too easily: a rolling deployment that the circuit
breaker rolled back still leaves a PRIMARY deployment that is COMPLETED (the rollback's), and a
waiter that checks "the service is stable" reports it as a success. Here a rolling deployment
is judged by the id of the deployment our own UpdateService created, and only that one:

- succeeded: ours is PRIMARY, its rolloutState COMPLETED, running equals desired, and (with a
  load balancer) its targets healthy;
- failed: ours is FAILED, or no longer PRIMARY (another deployment, a rollback or someone
  else's update, took over), or gone from the service;
- otherwise in progress.

A CodeDeploy deployment is judged by its own status: Succeeded, or Failed/Stopped with its
error and whether it was rolled back.

`PollSchedule` decides the pause between looks: short after a change, longer while nothing
moves, never longer than the 2 s a result may wait to be seen, and on average no more than one
look a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

State = Literal["in_progress", "succeeded", "failed"]


@dataclass(frozen=True)
class Verdict:
    state: State
    reason: str
    rolled_back: bool = False  # a failure after which the previous version serves again

    @property
    def done(self) -> bool:
        return self.state != "in_progress"


def rolling_verdict(deployments: Sequence[Mapping[str, Any]], ours: str,
                    targets_healthy: bool | None = None) -> Verdict:
    """The verdict on deployment `ours` of a service whose `deployments` (DescribeServices)
    are given; `targets_healthy` is None without a load balancer."""
    mine = next((d for d in deployments if d.get("id") == ours), None)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if mine is None:
        now = f"; {primary.get('id')} is PRIMARY now" if primary else ""
        return Verdict("failed", f"deployment {ours} is gone from the service (replaced or "
                                 f"rolled back){now}")
    if mine.get("rolloutState") == "FAILED":
        why = mine.get("rolloutStateReason") or "no reason given"
        return Verdict("failed", f"deployment {ours} failed: {why}")
    if primary is not None and primary.get("id") != ours:
        return Verdict("failed", f"deployment {ours} is no longer PRIMARY: {primary.get('id')} "
                                 f"({primary.get('taskDefinition', '?')}) took over, "
                                 "a rollback or another update")
    running, desired = int(mine.get("runningCount", 0)), int(mine.get("desiredCount", 0))
    progress = f"{running}/{desired} running, rollout {mine.get('rolloutState', '?')}"
    if mine.get("rolloutState") == "COMPLETED" and running == desired:
        if targets_healthy is False:
            return Verdict("in_progress", f"{progress}; waiting for healthy targets")
        return Verdict("succeeded", f"deployment {ours} completed: {running}/{desired} running")
    return Verdict("in_progress", progress)


def blue_green_verdict(deployment: Mapping[str, Any]) -> Verdict:
    """The verdict on a CodeDeploy deployment (GetDeployment's deploymentInfo)."""
    status = deployment.get("status", "")
    ident = deployment.get("deploymentId", "?")
    if status == "Succeeded":
        return Verdict("succeeded", f"deployment {ident} succeeded")
    if status in ("Failed", "Stopped"):
        error = deployment.get("errorInformation") or {}
        why = error.get("message") or error.get("code") or "no reason given"
        rollback = deployment.get("rollbackInfo") or {}
        rolled_back = bool(rollback.get("rollbackMessage") or
                           rollback.get("rollbackDeploymentId"))
        how = " and was rolled back" if rolled_back else ""
        return Verdict("failed", f"deployment {ident} {status.lower()}{how}: {why}", rolled_back)
    if status == "Ready":
        return Verdict("in_progress", f"deployment {ident} waits for traffic to be approved")
    return Verdict("in_progress", f"deployment {ident} {status or 'pending'}")


class PollSchedule:
    """The pause before the next look at a deployment.

    FASTEST after a change (things are moving), growing by half while nothing changes up to
    SLOWEST, and never beyond LATEST (a result is seen within 2 s of happening); a pause
    longer than wanted is taken when looks have run ahead of BUDGET per second on average.
    """

    FASTEST, SLOWEST, LATEST, BUDGET = 0.5, 1.5, 2.0, 1.0

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._start = clock()
        self._looks = 0
        self._pause = self.FASTEST

    def next_pause(self, changed: bool, calls: int | None = None) -> float:
        """Called after each look; `changed` says whether it saw anything new. `calls`, when
        the caller counts them, is the API calls made so far: the budget is then held in
        calls, for a look that can cost more than one."""
        self._looks += 1
        self._pause = self.FASTEST if changed else min(self.SLOWEST, self._pause * 1.5)
        spent = self._looks if calls is None else calls
        ahead = spent / self.BUDGET - (self._clock() - self._start)
        return min(self.LATEST, max(self._pause, ahead))
