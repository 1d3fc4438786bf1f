"""Why a rolling deployment failed, in the words a person would look for them.

What an operator opens the console for: the deployment's rolloutStateReason (in the
verdict), the service's last events, and for each task the deployment started and ECS
stopped, its stoppedReason, each container's exit code or reason, and the last lines it
wrote to CloudWatch Logs (found by the container's awslogs options, as ECS names streams).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

MAX_TASKS, MAX_EVENTS, LOG_LINES = 3, 5, 5


class TaskReader(Protocol):
    def service(self, cluster: str, name: str) -> dict[str, Any] | None: ...
    def stopped_tasks(self, cluster: str, started_by: str,
                      limit: int = 10) -> list[dict[str, Any]]: ...
    def task_definition(self, arn: str) -> dict[str, Any]: ...


class LogReader(Protocol):
    def last_lines(self, group: str, stream: str, count: int = 5) -> list[str]: ...


def explain_rolling_failure(ecs: TaskReader, logs: LogReader, cluster: str, service: str,
                            deployment_id: str) -> list[str]:
    """Lines that say why deployment `deployment_id` of `service` failed."""
    lines = []
    described = ecs.service(cluster, service) or {}
    for event in described.get("events", [])[:MAX_EVENTS][::-1]:  # oldest first
        lines.append(f"event: {event.get('message', '')}")
    definitions: dict[str, dict[str, Any]] = {}
    for task in ecs.stopped_tasks(cluster, deployment_id, limit=MAX_TASKS):
        task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1]
        how = "stopped" if task.get("lastStatus") in (None, "STOPPED") else "stopping"
        lines.append(f"task {task_id} {how}: {task.get('stoppedReason') or 'no reason given'}")
        arn = str(task.get("taskDefinitionArn", ""))
        if arn and arn not in definitions:
            definitions[arn] = ecs.task_definition(arn)
        for container in task.get("containers", []):
            lines.extend(container_lines(container, task_id, definitions.get(arn, {}),
                                          logs.last_lines))
    return lines


def container_lines(container: dict[str, Any], task_id: str, definition: dict[str, Any],
                     last_lines: Callable[[str, str, int], list[str]]) -> list[str]:
    name = str(container.get("name", "?"))
    exit_code = container.get("exitCode")
    how = f"exit code {exit_code}" if exit_code is not None else \
        str(container.get("reason") or container.get("lastStatus", "?"))
    lines = [f"  container {name}: {how}"]
    options = next((c.get("logConfiguration", {}).get("options", {})
                    for c in definition.get("containerDefinitions", [])
                    if c.get("name") == name
                    and c.get("logConfiguration", {}).get("logDriver") == "awslogs"), None)
    if options and options.get("awslogs-group") and options.get("awslogs-stream-prefix"):
        stream = f"{options['awslogs-stream-prefix']}/{name}/{task_id}"
        lines += [f"    | {line}" for line in last_lines(options["awslogs-group"], stream,
                                                         LOG_LINES)]
    return lines
