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

from shipyard.domain.deployment import (
    PollSchedule,
    Verdict,
    blue_green_verdict,
    rolling_verdict,
)

Look = Callable[[], tuple[Verdict, list[str]]]


class ServiceReader(Protocol):
    def service(self, cluster: str, name: str) -> dict[str, Any] | None: ...


class DeploymentReader(Protocol):
    def deployment(self, deployment_id: str) -> dict[str, Any]: ...
    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None: ...


def watch(look: Look, *, timeout: float, clock: Callable[[], float],
          sleep: Callable[[float], None], report: Callable[[str], None]) -> Verdict:
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
        sleep(min(schedule.next_pause(changed), left))


def rolling_look(ecs: ServiceReader, cluster: str, service: str, deployment_id: str,
                 seen_events: set[str] | None = None) -> Look:
    """A look at a service's rolling deployment `deployment_id`: its verdict, and the
    service events not seen before (those before the deploy are `seen_events`)."""
    seen = set(seen_events or ())

    def look() -> tuple[Verdict, list[str]]:
        described = ecs.service(cluster, service)
        if described is None:
            return Verdict("failed", f"service {service} in cluster {cluster} is gone"), []
        news = [event for event in reversed(described.get("events", []))  # oldest first
                if event.get("id") not in seen]
        seen.update(str(event.get("id")) for event in news)
        return (rolling_verdict(described.get("deployments", []), deployment_id),
                [str(event.get("message", "")) for event in news])

    return look


def blue_green_look(codedeploy: DeploymentReader, deployment_id: str) -> Look:
    """A look at a CodeDeploy deployment: its verdict, and what changed since the last look:
    a lifecycle event's status, the traffic weights of the task sets."""
    last: dict[str, str] = {}

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
        weights = ", ".join(f"{t.get('taskSetLabel', '?')} {t.get('trafficWeight', 0):g}%"
                            for t in (target or {}).get("taskSetsInfo", []))
        if weights and last.get("weights") != weights:
            news.append(f"traffic: {weights}")
            last["weights"] = weights
        return blue_green_verdict(info), news

    return look
