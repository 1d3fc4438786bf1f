"""Following a deployment to its end: one poll loop on the injected clock.

`watch(look, ...)` looks (one batched read per look), reports what is new, and stops at the
verdict or the timeout. What a look reads is given: `rolling_look` reads the service once
(its deployments and events in one DescribeServices), and, once ECS says the rollout is
complete, the health of the service's load-balancer targets; a blue/green look reads the
CodeDeploy deployment. The pauses come from `PollSchedule`: a result is seen within 2 s of
happening, at one read a second on average.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from shipyard.domain.board import Board, blue_green_board, rolling_board
from shipyard.domain.deployment import (
    PollSchedule,
    Verdict,
    blue_green_verdict,
    rolling_verdict,
)
from shipyard.errors import ShipyardError

Look = Callable[[], tuple[Verdict, list[str]]]
Show = Callable[[Board], None]  # gets the board each time it changes (a live view)


class ServiceReader(Protocol):
    def service(self, cluster: str, name: str) -> dict[str, Any] | None: ...


class TargetReader(Protocol):
    def target_health(self, target_group_arn: str) -> list[dict[str, Any]]: ...


class DeploymentReader(Protocol):
    def deployment(self, deployment_id: str) -> dict[str, Any]: ...
    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None: ...


def watch(look: Look, *, timeout: float, clock: Callable[[], float],
          sleep: Callable[[float], None], report: Callable[[str], None],
          calls: Callable[[], int] | None = None) -> Verdict:
    """Look until the verdict is in or `timeout` seconds pass (then a failure that says what
    it was waiting for). `report` gets each new event and each change of the verdict's
    reason, oldest first."""
    schedule = PollSchedule(clock)
    deadline = clock() + timeout
    last = ""
    while True:
        verdict, news = look()
        for line in news:
            report(line)
        changed = bool(news) or verdict.reason != last
        if verdict.reason != last:
            report(verdict.reason)
            last = verdict.reason
        if verdict.done:
            return verdict
        left = deadline - clock()
        if left <= 0:
            return Verdict("failed", f"timed out after {timeout:g}s; {verdict.reason}")
        sleep(min(schedule.next_pause(changed, calls() if calls else None), left))


def rolling_look(ecs: ServiceReader, cluster: str, service: str, deployment_id: str,
                 seen_events: set[str] | None = None, show: Show | None = None,
                 targets: Callable[[], TargetReader] | None = None) -> Look:
    """A look at a service's rolling deployment `deployment_id`: its verdict, and the
    service events not seen before (those before the deploy are `seen_events`). `show`, if
    given, gets the service's deployments and counts when they change (no extra call).

    With `targets` (which gives the ELB reader when first needed), a deployment ECS calls
    complete succeeds only once every target group of the service holds at least the
    deployment's desired count of healthy targets and none still in `initial` or `unhealthy`:
    the load balancer, not ECS, is what users reach. Those reads (one per target group) are
    made only from that point on."""
    seen = set(seen_events or ())
    shown = _Shown(show)

    def look() -> tuple[Verdict, list[str]]:
        described = ecs.service(cluster, service)
        if described is None:
            return Verdict("failed", f"service {service} in cluster {cluster} is gone"), []
        news = [event for event in reversed(described.get("events", []))  # oldest first
                if event.get("id") not in seen]
        seen.update(str(event.get("id")) for event in news)
        deployments = described.get("deployments", [])
        shown(rolling_board(deployments))
        verdict = rolling_verdict(deployments, deployment_id)
        groups = [str(lb["targetGroupArn"]) for lb in described.get("loadBalancers") or []
                  if lb.get("targetGroupArn")]
        lines = [str(event.get("message", "")) for event in news]
        if verdict.state == "succeeded" and targets is not None and groups:
            mine = next(d for d in deployments if d.get("id") == deployment_id)
            try:
                waiting = _targets_waiting(targets(), groups, int(mine.get("desiredCount", 0)))
            except ShipyardError as exc:  # read fine while planning: ECS's word stands
                lines.append(f"target health could not be read ({exc.message}); judged by "
                             "ECS's rollout alone")
                return verdict, lines
            verdict = rolling_verdict(deployments, deployment_id, targets_healthy=not waiting)
            if waiting:
                verdict = Verdict(verdict.state, f"{verdict.reason}: {waiting}")
        return verdict, lines

    return look


def _targets_waiting(targets: TargetReader, groups: list[str], desired: int) -> str:
    """What the service's target groups still wait for ('' when every one is healthy)."""
    waits = []
    for arn in dict.fromkeys(groups):
        states = [str((t.get("TargetHealth") or {}).get("State", ""))
                  for t in targets.target_health(arn)]
        healthy = states.count("healthy")
        pending = sum(state in ("initial", "unhealthy") for state in states)
        if healthy < desired or pending:
            name = arn.rsplit(":", 1)[-1].split("/")[1] if "/" in arn else arn
            # every state but healthy and draining (the old tasks leaving), counted: an
            # `unavailable` or `unused` target says why the count is not reached
            others = Counter(s for s in states if s not in ("healthy", "draining"))
            waits.append(f"{name} {healthy}/{desired} healthy" + "".join(
                f", {count} {state}" for state, count in sorted(others.items())))
    return "; ".join(waits)


def blue_green_look(codedeploy: DeploymentReader, deployment_id: str,
                    show: Show | None = None) -> Look:
    """A look at a CodeDeploy deployment: its verdict, and what changed since the last look:
    a lifecycle event's status, the traffic weights of the task sets. `show`, if given, gets
    the task sets and weights when they change."""
    last: dict[str, str] = {}
    shown = _Shown(show)

    def look() -> tuple[Verdict, list[str]]:
        info = codedeploy.deployment(deployment_id)
        target = codedeploy.ecs_target(deployment_id) if info.get("status") != "Created" \
            else None
        news = []
        for event in (target or {}).get("lifecycleEvents", []):
            key, status = f"event {event.get('lifecycleEventName')}", str(event.get("status"))
            if status != "Pending" and last.get(key) != status:
                news.append(f"{event.get('lifecycleEventName')}: {status}")
                last[key] = status
        board = blue_green_board(target)
        weights = ", ".join(f"{label} {weight:g}%" for label, weight in board.weights)
        if weights and last.get("weights") != weights:
            news.append(f"traffic: {weights}")
            last["weights"] = weights
        if target is not None:
            shown(board)
        return blue_green_verdict(info), news

    return look


class _Shown:
    """Hands a board to `show` when it differs from the one handed before."""

    def __init__(self, show: Show | None) -> None:
        self._show = show
        self._last: Board | None = None

    def __call__(self, board: Board) -> None:
        if self._show is not None and board != self._last:
            self._last = board
            self._show(board)
