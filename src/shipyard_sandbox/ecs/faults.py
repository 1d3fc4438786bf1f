"""Fault knobs for tests and demos: make new tasks of an image misbehave, image unchanged.

A knob is an SSM parameter (set with PutParameter, removed with DeleteParameter, through the
sandbox's own API) named `/shipyard-sandbox/faults/ecs/<any name>` whose value is JSON:

    {"image": "<the container definition's image, exactly>", "fault": "exit-at-start",
     "exitCode": 1}
    {"image": "...", "fault": "fail-health-check"}

It applies to containers started after it is set:
- `exit-at-start`: the container is reported started and at once exited with `exitCode`
  (default 1), its process never run; an essential one stops the task ("Essential container
  in task exited"), as an image whose command fails would;
- `fail-health-check`: the container runs, but its health is UNHEALTHY once its health check
  would have failed `retries` times (startPeriod + interval x retries, ECS's defaults where
  the definition has no healthCheck), as a check that never passes would make it.

The container's `reason` names the knob, so that a task stopped by one says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from shipyard_sandbox import timescale
from shipyard_sandbox.knobs import knobs
from shipyard_sandbox.runtime.healthcheck import DEFAULTS, UNHEALTHY, UNKNOWN

PREFIX = "/shipyard-sandbox/faults/ecs/"
EXIT_AT_START, FAIL_HEALTH_CHECK = "exit-at-start", "fail-health-check"


def knob_for(image: str, account_id: str, region: str) -> dict[str, Any] | None:
    """The knob set for `image`, if any (the last by name when several match)."""
    matching = [{**value, "name": name} for name, value in knobs(PREFIX, account_id, region)
                if value.get("image") == image
                and value.get("fault") in (EXIT_AT_START, FAIL_HEALTH_CHECK)]
    return matching[-1] if matching else None


class FailingHealth:
    """A container's health that turns UNHEALTHY when its check would have failed enough:
    the `monitor` of a container under the fail-health-check knob."""

    def __init__(self, health_check: dict[str, Any] | None,
                 on_change: Callable[[str], None]) -> None:
        settings = {**DEFAULTS, **{k: v for k, v in (health_check or {}).items()
                                   if v is not None and k != "command"}}
        delay = settings["startPeriod"] + settings["interval"] * settings["retries"]
        self.status = UNKNOWN
        self._on_change = on_change
        self._timer = threading.Timer(timescale.scaled(float(delay)), self._fail)
        self._timer.daemon = True

    def start(self) -> FailingHealth:
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()

    def _fail(self) -> None:
        self.status = UNHEALTHY
        self._on_change(UNHEALTHY)
