"""Container output to CloudWatch Logs (moto's backend), as ECS's `awslogs` driver sends it.

The stream of a container is `PREFIX/CONTAINER-NAME/TASK-ID` (`awslogs-stream-prefix`), as on
Fargate; without a prefix the sandbox uses `CONTAINER-NAME/TASK-ID` (on EC2 Docker would name
it by container id). The group must exist unless `awslogs-create-group` is "true", else the
task fails to start, as ECS fails it. Each line is one event, timestamped when it was read.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.logs.models import logs_backends

_lock = threading.Lock()  # moto's log streams are not thread-safe on their own


class LogConfigError(RuntimeError):
    """The awslogs options name a group that does not exist (and may not be created)."""


class LogSink:
    """Where one container's lines go; `None`-like when the container logs elsewhere."""

    def __init__(self, account_id: str, region: str, group: str, stream: str) -> None:
        self.backend = logs_backends[account_id][region]
        self.group = group
        self.stream = stream

    def write(self, _stream: str, line: str) -> None:
        event = {"timestamp": int(time.time() * 1000), "message": line}
        with _lock:
            if self.group in self.backend.groups:  # deleted meanwhile: the line is dropped
                self.backend.put_log_events(self.group, self.stream, [event])


def sink_for(definition: dict[str, Any], task_id: str, account_id: str,
             default_region: str) -> LogSink | None:
    """The sink of a container definition (None unless it uses `awslogs`); creates the
    stream, and the group when the options allow it."""
    config = definition.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    options = config.get("options") or {}
    group = options.get("awslogs-group")
    if not group:
        raise LogConfigError("failed to initialize logging driver: awslogs-group is required")
    region = options.get("awslogs-region") or default_region
    prefix = options.get("awslogs-stream-prefix")
    name = definition.get("name", "container")
    stream = f"{prefix}/{name}/{task_id}" if prefix else f"{name}/{task_id}"
    sink = LogSink(account_id, region, group, stream)
    with _lock:
        if group not in sink.backend.groups:
            if str(options.get("awslogs-create-group", "")).lower() != "true":
                raise LogConfigError(
                    "ResourceInitializationError: failed to validate logger args: The "
                    f"specified log group does not exist: {group}")
            sink.backend.create_log_group(group, {})
        if stream not in sink.backend.groups[group].streams:
            sink.backend.create_log_stream(group, stream)
    return sink
