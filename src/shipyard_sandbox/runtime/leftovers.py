"""What a sandbox that ended without stopping its tasks (killed, crashed) left running.

Every process the runtime starts in a session of its own (a container's unshare, a task's
network holder) is recorded beside its state as `*.process.json`: its pid and its start time
(so that a pid used again by another process is never mistaken for it). `reap(folder)` ends
each recorded process still running, with its process group, and removes the folder: the
namespaces and mounts go with their processes. The sandbox calls it at start, before any task
of its own runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from pathlib import Path

SUFFIX = ".process.json"
MAX_RECORDS = 100_000


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone (a zombie,
    ended but not yet waited for by its parent, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return int(fields[19])  # field 22 of stat(5); the first two were split off


def record(path: Path, pid: int) -> None:
    """Note `pid` (the leader of its own process group) at `path` (ending in SUFFIX)."""
    path.write_text(json.dumps({"pid": pid, "start": start_time(pid)}))


def reap(folder: Path, timeout: float = 10.0) -> list[int]:
    """End every recorded process under `folder` that still runs, remove `folder`; returns
    the pids that were ended."""
    ended = []
    for count, path in enumerate(folder.rglob(f"*{SUFFIX}") if folder.is_dir() else []):
        if count >= MAX_RECORDS:
            break
        try:
            noted = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        pid = noted.get("pid")
        started = start_time(pid) if isinstance(pid, int) else None
        if started is not None and noted.get("start") == started:
            # Its children first (a container's PID 1): unshare then reaps it and ends, where
            # killed together the child would be left for the machine's init to reap.
            children = _children(pid)
            with contextlib.suppress(ProcessLookupError):
                for child in children:
                    os.kill(child, signal.SIGKILL)
                if not children:  # a network holder: nothing to reap first
                    os.killpg(pid, signal.SIGKILL)
            ended.append(pid)
    grace = time.monotonic() + 1.0  # for unshare to reap its child and end by itself
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [pid for pid in ended if start_time(pid) is not None]
        if not running:
            break
        if time.monotonic() > grace:
            for pid in running:  # the process and whatever is left in its group
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        time.sleep(0.02)
    shutil.rmtree(folder, ignore_errors=True)
    return ended


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []
