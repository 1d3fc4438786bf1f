"""One container run as a real process in namespaces of its own (mount, pid, network).

    container = Container(launch.plan(image, definition), workdir, on_output)
    container.start()              # ContainerStartError if it cannot start
    container.wait(timeout)        # the exit code, or None while it runs
    container.stop(stop_timeout)   # stop signal, SIGKILL after stop_timeout; the exit code

The process is `unshare --net --mount --pid --fork --kill-child` around `_starter.py`, which
becomes the container (see there). With `network=PID` the container joins the network
namespace of PID (a `network.TaskNetwork`, shared by a task's containers) instead. `pid` is
the host's id of the container's PID 1, the target for `nsenter` (health checks, the
forwarder). stdout and stderr lines go to
`on_output(stream, line)` as they come ("stdout"/"stderr", no newline; a line longer than
16 KiB arrives in parts, as Docker splits it). The exit code is Docker's: the process's own,
or 128 + the signal that killed it. After `stop()` nothing is left: the namespaces die with
their last process, and the writable layer (`workdir`) is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from shipyard_sandbox.runtime import leftovers
from shipyard_sandbox.runtime.launch import ContainerStartError, LaunchPlan
from shipyard_sandbox.runtime.network import joined

UNSHARE = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child",
           "--propagation", "private"]
STARTER = Path(__file__).with_name("_starter.py")
START_TIMEOUT = 30.0  # the starter execs within milliseconds; this only bounds a hang
LINE_LIMIT = 16 * 1024
UNSHARE_SIGKILLED = b"unshare: sigprocmask unblock failed"
OutputCallback = Callable[[str, str], None]


class Container:
    """A container's process; `start()` once, then `wait()`/`stop()` from any thread.
    Call `stop()` also after the process ended by itself: it removes the writable layer."""

    def __init__(self, plan: LaunchPlan, workdir: Path, on_output: OutputCallback, *,
                 network: int | None = None) -> None:
        self.plan = plan
        self.network = network
        self.workdir = workdir
        self.on_output = on_output
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._pidfd: int | None = None
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Lock()
        self._sigkilled = False

    def start(self) -> None:
        if os.geteuid() != 0:
            raise ContainerStartError("the sandbox runs tasks only as root (it makes "
                                      "namespaces and mounts)")
        for part in ("upper", "work", "merged"):
            (self.workdir / part).mkdir(parents=True, exist_ok=True)
        spec = self.workdir / "spec.json"
        spec.unlink(missing_ok=True)
        # Created readable by root only, and removed once the starter read it: the
        # environment may hold secrets.
        with os.fdopen(os.open(spec, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            json.dump({
                "lower": str(self.plan.rootfs), "upper": str(self.workdir / "upper"),
                "work": str(self.workdir / "work"), "merged": str(self.workdir / "merged"),
                "argv": self.plan.argv, "env": self.plan.env, "cwd": self.plan.cwd,
                "uid": self.plan.uid, "gid": self.plan.gid, "groups": self.plan.groups,
                "mounts": [{"source": str(m.source), "target": m.target,
                            "read_only": m.read_only} for m in self.plan.mounts],
                "read_only_root": self.plan.read_only_root}, out)
        report = self.workdir / "report"
        report.unlink(missing_ok=True)
        os.mkfifo(report, 0o600)
        # Opened before the starter runs, without blocking; it reports no end of file
        # before a writer has come and gone.
        report_fd = os.open(report, os.O_RDONLY | os.O_NONBLOCK)
        try:
            self._process = subprocess.Popen(
                [*self._namespaces(), sys.executable, "-I", "-S", str(STARTER), str(spec),
                 str(report)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, env={"PATH": "/usr/bin:/bin"})
            failure = _read_report(report_fd, self._process)
        except OSError as error:  # unshare itself missing or not executable
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise ContainerStartError(f"container {self.plan.name}: cannot run unshare "
                                      f"(util-linux): {error}") from error
        finally:
            os.close(report_fd)
        spec.unlink(missing_ok=True)
        leftovers.record(self.workdir / f"container{leftovers.SUFFIX}", self._process.pid)
        self._pidfd, self.pid = self._open_pid1()
        for stream, name in ((self._process.stdout, "stdout"), (self._process.stderr, "stderr")):
            reader = threading.Thread(target=self._read, args=(stream, name), daemon=True,
                                      name=f"{self.plan.name}-{name}")
            reader.start()
            self._readers.append(reader)
        if failure is not None:
            self.stop(timeout=0)
            raise ContainerStartError(f"container {self.plan.name}: {failure}")

    @property
    def exit_code(self) -> int | None:
        """The exit code once the process ended, else None."""
        if self._process is None or self._process.poll() is None:
            return None
        self._join_readers()  # the reader of stderr may yet learn of a SIGKILL
        code = self._process.returncode
        if self._sigkilled and code == 1:
            return 128 + signal.SIGKILL
        return 128 - code if code < 0 else code

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, waiting up to `timeout` seconds; None if still running."""
        assert self._process is not None
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join_readers()
        return self.exit_code

    def signal(self, signum: int) -> None:
        """Send `signum` to the container's PID 1. As under Docker, PID 1 receives only the
        signals it handles (SIGKILL aside): a process without a SIGTERM handler ignores it."""
        with self._lock:
            if self._pidfd is not None and self._process and self._process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self._pidfd, signum)

    def stop(self, timeout: float = 30.0) -> int:
        """Docker's stop: the image's stop signal, SIGKILL after `timeout` (ECS's
        stopTimeout) seconds; returns the exit code once nothing of the task is left."""
        assert self._process is not None
        with self._stopping:  # a second stop waits for the first, then finds it done
            if self._process.poll() is None:
                self.signal(self.plan.stop_signal)
                if self.wait(timeout) is None:
                    self.signal(signal.SIGKILL)  # PID 1's death kills its pid namespace
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                # Only if the starter hung before becoming PID 1: --kill-child ends it.
                self._process.kill()
                self._process.wait(10)
            self._join_readers()
            with self._lock:
                if self._pidfd is not None:
                    os.close(self._pidfd)
                    self._pidfd = None
            shutil.rmtree(self.workdir, ignore_errors=True)
        code = self.exit_code
        assert code is not None
        return code

    def _namespaces(self) -> list[str]:
        """unshare, or with `network`: nsenter into that network namespace, then unshare of
        the mount and pid namespaces (nsenter execs unshare: its pid stays ours to wait)."""
        if self.network is None:
            return UNSHARE
        return [*joined(self.network), *(arg for arg in UNSHARE if arg != "--net")]

    def _open_pid1(self) -> tuple[int | None, int | None]:
        """A pidfd of unshare's child, the namespace's PID 1 (None if it already ended)."""
        assert self._process is not None
        children = Path(f"/proc/{self._process.pid}/task/{self._process.pid}/children")
        try:
            pids = children.read_text().split()
        except OSError:
            return None, None
        if not pids:
            return None, None
        try:
            return os.pidfd_open(int(pids[0])), int(pids[0])
        except ProcessLookupError:
            return None, None

    def _read(self, stream: IO[bytes], name: str) -> None:
        # Ends at EOF: when the last process of the namespace holding the pipe is gone.
        for line in iter(lambda: stream.readline(LINE_LIMIT), b""):
            if name == "stderr" and line.startswith(UNSHARE_SIGKILLED):
                # unshare passes on a child's death by signal by raising it on itself, which
                # it cannot do for SIGKILL: it says so and exits 1. Only SIGKILL fails there.
                self._sigkilled = True
                continue
            try:
                self.on_output(name, line.rstrip(b"\n").decode(errors="replace"))
            except Exception:  # a failing consumer must not stop the draining of the pipe
                continue
        stream.close()

    def _join_readers(self) -> None:
        for reader in self._readers:
            if reader is not threading.current_thread():  # an on_output asking exit_code
                reader.join(timeout=10)


def _read_report(fd: int, process: subprocess.Popen[bytes]) -> str | None:
    """The starter's failure message, or None once a successful exec closed the fifo."""
    deadline = time.monotonic() + START_TIMEOUT
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            if process.poll() is not None:
                # Ended before the starter opened the fifo: unshare itself failed.
                return f"unshare failed (exit code {process.returncode}); see its stderr"
            continue
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            continue
        if not chunk:
            return data.decode(errors="replace") or None
        data += chunk[: 4096 - len(data)]
    return data.decode(errors="replace") or "the container did not start in time"
