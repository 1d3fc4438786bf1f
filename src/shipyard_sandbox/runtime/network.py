"""A task's network namespace, shared by its containers as in ECS's `awsvpc` mode.

ECS's agent gives a task one network namespace (held by its "pause" container) that all the
task's containers join, so a sidecar reaches the app on localhost. `TaskNetwork.start()` is
that holder here: `unshare --net` around a shell that brings `lo` up and then sleeps, and
`Container(..., network=task_network.pid)` joins it instead of making a namespace of its own.
The namespace has loopback only and lives until the holder and every container in it ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from shipyard_sandbox.runtime import leftovers
from shipyard_sandbox.runtime.forwarder import first_line

READY_TIMEOUT = 10.0


class TaskNetworkError(RuntimeError):
    """The task's network namespace could not be made."""


class TaskNetwork:
    """The holder of one task's network namespace; `pid` is what containers join."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "start() first"
        return self._process.pid

    @property
    def namespace(self) -> str:
        """The namespace's identity ("net:[inode]"), as /proc/PID/ns/net shows it."""
        return os.readlink(f"/proc/{self.pid}/ns/net")

    def start(self, state: Path | None = None) -> TaskNetwork:
        """Make the namespace; with `state` (a folder), record the holder there for
        `leftovers.reap`."""
        self._process = subprocess.Popen(
            ["unshare", "--net", "--", "/bin/sh", "-c",
             "ip link set lo up && echo up && exec sleep infinity"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        assert self._process.stdout is not None
        if first_line(self._process.stdout, READY_TIMEOUT) != b"up\n":
            self.stop()
            raise TaskNetworkError("could not make the task's network namespace: "
                                   f"{self._stderr()}")
        if state is not None:
            state.mkdir(parents=True, exist_ok=True)
            leftovers.record(state / f"network{leftovers.SUFFIX}", self.pid)
        return self

    def stop(self) -> None:
        """End the holder; the namespace goes once no container is left in it."""
        if self._process is None:
            return
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(10)
        for stream in (self._process.stdout, self._process.stderr):
            if stream:
                stream.close()

    def _stderr(self) -> str:
        assert self._process is not None
        if self._process.poll() is None or self._process.stderr is None:
            return "no answer"
        return self._process.stderr.read(4096).decode(errors="replace").strip()


def joined(pid: int) -> list[str]:
    """The command prefix that runs the rest in the network namespace of `pid`."""
    return ["nsenter", f"--net={Path('/proc') / str(pid) / 'ns' / 'net'}", "--"]
