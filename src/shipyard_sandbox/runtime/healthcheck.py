"""A container's health check, run inside the running task as Docker runs it for ECS.

`HealthMonitor(container, definition["healthCheck"], time_scale)` runs the check command in the
task's pid, mount and network namespaces (`nsenter --target PID --pid --mount --net --root
--wd`), in the container's working directory, as its user, with its environment, and keeps
ECS's `healthStatus`:

- UNKNOWN until a result decides, as while Docker reports "starting";
- HEALTHY after a check exits 0;
- UNHEALTHY after `retries` consecutive failures (non-zero exit, or no exit within `timeout`);
  failures within `startPeriod` do not count until a check has passed (Docker's rule: the
  start period ends at the first success).

The first check runs one `interval` after the start, as Docker's. The waits (interval,
startPeriod) are divided by `time_scale`; the timeout is not: it bounds a real process (a
`python3 -c ...` check takes a few hundred milliseconds to start on a busy machine), which
runs no faster in the sandbox, and a scaled one failed healthy tasks under load.
ECS's defaults apply to what the definition leaves out (interval 30 s, timeout 5 s,
retries 3, startPeriod 0).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from shipyard_sandbox.runtime.process import Container

HEALTHY, UNHEALTHY, UNKNOWN = "HEALTHY", "UNHEALTHY", "UNKNOWN"
DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
MAX_OUTPUT = 4096  # Docker keeps this much of a check's output
MAX_CHECKS = 1_000_000  # a bound no task reaches: one check a millisecond for 15 minutes


def check_argv(command: list[str]) -> list[str]:
    """The process a health check runs: ["CMD-SHELL", "x"] -> sh -c x; ["CMD", *argv]."""
    if len(command) >= 2 and command[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(command[1:])]
    if len(command) >= 2 and command[0] == "CMD":
        return command[1:]
    raise ValueError(f"health check command {command!r} must start with CMD or CMD-SHELL and "
                     "name something to run")


class HealthMonitor:
    """Runs a container's health check in a thread of its own until `stop()` or the
    container's end; `status` is ECS's healthStatus, `on_change(status)` is called when it
    changes. `last_output` holds the latest check's output (at most 4 KiB)."""

    def __init__(self, container: Container, health_check: dict[str, Any], *,
                 time_scale: float = 1.0,
                 on_change: Callable[[str], None] | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale divides waits; it must be positive")
        settings = {**DEFAULTS, **{k: v for k, v in health_check.items() if v is not None}}
        self.argv = check_argv(list(health_check["command"]))
        self.container = container
        self.interval = settings["interval"] / time_scale
        self.timeout = float(settings["timeout"])
        self.retries = int(settings["retries"])
        self.start_period = settings["startPeriod"] / time_scale
        self.on_change = on_change
        self.status = UNKNOWN
        self.last_output = ""
        self.checks = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"health-{container.plan.name}")

    def start(self) -> HealthMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.timeout + 5)

    def _run(self) -> None:
        started = time.monotonic()
        failures = 0
        while self.checks < MAX_CHECKS and not self._stopped.wait(self.interval):
            if self.container.exit_code is not None:
                return
            self.checks += 1
            if self._check_once():
                failures = 0
                self._set(HEALTHY)
            elif self.status != UNKNOWN or time.monotonic() - started >= self.start_period:
                failures += 1
                if failures >= self.retries:
                    self._set(UNHEALTHY)

    def _check_once(self) -> bool:
        plan = self.container.plan
        if self.container.pid is None:
            return False
        pid = self.container.pid
        # The container's configured working directory, as Docker's exec uses, not PID 1's
        # current one; nsenter opens it before entering, so through the task's root.
        command = ["/usr/bin/nsenter", f"--target={pid}", "--pid", "--mount", "--net",
                   "--root", f"--wd=/proc/{pid}/root{plan.cwd}", f"--setuid={plan.uid}",
                   f"--setgid={plan.gid}", "--", *self.argv]
        process = subprocess.Popen(command, env=plan.env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            output, _ = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            # The group holds nsenter and the check it started inside the task.
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            self.last_output = f"health check exceeded its timeout ({self.timeout:g}s)"
            return False
        self.last_output = output[-MAX_OUTPUT:].decode(errors="replace")
        return process.returncode == 0

    def _set(self, status: str) -> None:
        if status != self.status:
            self.status = status
            if self.on_change:
                self.on_change(status)
