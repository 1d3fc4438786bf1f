"""A rolling deployment (deployment controller ECS): register, update, remember our id.

The deployment id our UpdateService created is the one every later judgement is about
(`domain.deployment.rolling_verdict`): it is the PRIMARY deployment in UpdateService's own
answer, read there and nowhere later, when another update or a rollback could have taken its
place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shipyard.errors import AwsError


class ServiceWriter(Protocol):
    def register_task_definition(self, definition: dict[str, Any]) -> str: ...
    def update_service(self, cluster: str, service: str, task_definition: str,
                       force_new_deployment: bool = False,
                       desired_count: int | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RollingStart:
    task_definition: str  # the ARN the service was pointed at
    deployment_id: str  # the deployment our UpdateService created


def start_rolling(ecs: ServiceWriter, cluster: str, service: str,
                  definition: dict[str, Any]) -> RollingStart:
    """Register `definition` and point the service at it; what to watch."""
    return point_service(ecs, cluster, service, ecs.register_task_definition(definition))


def point_service(ecs: ServiceWriter, cluster: str, service: str, arn: str, *,
                  desired_count: int | None = None) -> RollingStart:
    """UpdateService to task definition `arn` (and `desired_count`, when given); the id of
    the deployment that update created, read from its own answer."""
    updated = ecs.update_service(cluster, service, arn, desired_count=desired_count)
    ours = next((d for d in updated.get("deployments", [])
                 if d.get("status") == "PRIMARY" and d.get("taskDefinition") == arn), None)
    if ours is None:
        raise AwsError(f"ecs:UpdateService answered without a PRIMARY deployment of {arn}; "
                       "the service may not use the ECS deployment controller")
    return RollingStart(arn, str(ours["id"]))
