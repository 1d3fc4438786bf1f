"""Following a deployment to its end: one poll loop on the injected clock.

`watch(look, ...)` looks (one batched read per look), reports what is new, and stops at the
verdict or the timeout. What a look reads is given: `rolling_look` reads the service once
(its deployments and events in one DescribeServices); a blue/green look reads the CodeDeploy
deployment. The pauses come from `PollSchedule`: a result is seen within 2 s of happening, at
one read a second on average.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from shipyard.domain.board import Board, blue_green_board, rolling_board
from shipyard.domain.deployment import (
    PollSchedule,
    Verdict,
    blue_green_verdict,
    rolling_verdict,
)

Look = Callable[[], tuple[Verdict, list[str]]]
Show = Callable[[Board], None]  # gets the board each time it changes (a live view)


class ServiceReader(Protocol):
    def service(self, cluster: str, name: str) -> dict[str, Any] | None: ...


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
                 seen_events: set[str] | None = None, show: Show | None = None) -> Look:
    """A look at a service's rolling deployment `deployment_id`: its verdict, and the
    service events not seen before (those before the deploy are `seen_events`). `show`, if
    given, gets the service's deployments and counts when they change (no extra call)."""
    seen = set(seen_events or ())
    shown = _Shown(show)

    def look() -> tuple[Verdict, list[str]]:
        described = ecs.service(cluster, service)
        if described is None:
            return Verdict("failed", f"service {service} in cluster {cluster} is gone"), []
        news = [event for event in reversed(described.get("events", []))  # oldest first
                if event.get("id") not in seen]
        seen.update(str(event.get("id")) for event in news)
        shown(rolling_board(described.get("deployments", [])))
        return (rolling_verdict(described.get("deployments", []), deployment_id),
                [str(event.get("message", "")) for event in news])

    return look


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
