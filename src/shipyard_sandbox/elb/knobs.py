"""The load balancer's fault knob `http-5xx`: a task of an image answers 5xx on a path.

As the ECS knobs (`shipyard_sandbox.ecs.faults`), a knob is an SSM parameter set through the
sandbox's own API, here under `/shipyard-sandbox/faults/elb/`, whose value is JSON:

    {"fault": "http-5xx", "image": "<the container definition's image, exactly>",
     "path": "/api/*", "status": 500}

A request the listener sends to a task whose container (the target's) names that image, with
a path matching `path` (a shell pattern; every path without one), is answered with `status`
(500 without one) as if by the task: counted as HTTPCode_Target_5XX, so alarms on it fire.
Health checks are not requests through a listener: the targets stay healthy, as a service
that fails on one route does. The image is not changed and the task is not asked.
"""

from __future__ import annotations

import fnmatch
import threading
from typing import Any

from moto.ecs.models import ecs_backends

from shipyard_sandbox.knobs import knobs

PREFIX = "/shipyard-sandbox/faults/elb/"
_images: dict[tuple[str, str], str | None] = {}  # (task ARN, container) -> image
_lock = threading.Lock()


def http_fault(account_id: str, region: str, task_arn: str, container: str,
               path: str) -> int | None:
    """The status a knob makes this request answer, or None."""
    knobs = _knobs(account_id, region)
    if not knobs:
        return None
    image = _image(account_id, region, task_arn, container)
    for knob in knobs:
        if knob.get("image") == image and fnmatch.fnmatchcase(path.split("?", 1)[0],
                                                              str(knob.get("path") or "*")):
            status = knob.get("status", 500)
            return status if isinstance(status, int) and 500 <= status <= 599 else 500
    return None


def _knobs(account_id: str, region: str) -> list[dict[str, Any]]:
    return [value for _, value in knobs(PREFIX, account_id, region)
            if value.get("fault") == "http-5xx"]


def _image(account_id: str, region: str, task_arn: str, container: str) -> str | None:
    """The image a task's container definition names (a task's image never changes)."""
    with _lock:
        if (task_arn, container) in _images:
            return _images[(task_arn, container)]
    backend = ecs_backends[account_id][region]
    image = None
    for tasks in list(backend.tasks.values()):
        task = tasks.get(task_arn)
        if task is not None:
            definition = backend.describe_task_definition(task.task_definition_arn)
            image = next((c.get("image") for c in definition.container_definitions
                          if c.get("name") == container), None)
            break
    with _lock:
        if len(_images) > 10_000:  # bounded: tasks come and go
            _images.clear()
        _images[(task_arn, container)] = image
    return image
