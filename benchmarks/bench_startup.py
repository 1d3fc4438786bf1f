"""Start-up: the wall time of short commands, as whole processes, with their output read.

Help is rich on a terminal and plain text in a pipe, so `shipyard --help` is timed both ways;
the terminal is a pseudo-terminal whose output is read and discarded.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from bench_routes import COMMAND_TIMEOUT


def timed_in_pipe(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True,
                          timeout=COMMAND_TIMEOUT, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command} exited {done.returncode}: "
                           f"{done.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def timed_on_terminal(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Like `timed_in_pipe`, with stdout and stderr on a pseudo-terminal (not a CI log)."""
    env = {k: v for k, v in env.items() if k != "CI"}
    env.setdefault("TERM", "xterm-256color")
    primary, secondary = pty.openpty()
    start = time.perf_counter()
    try:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                   stdout=secondary, stderr=secondary)
        os.close(secondary)
        secondary = -1
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 1.0)
            if ready:
                try:
                    if not os.read(primary, 65536):
                        break
                except OSError:  # EIO: every writer has closed the terminal
                    break
            elif process.poll() is not None:
                break
        code = process.wait(timeout=max(deadline - time.monotonic(), 1.0))
        elapsed = time.perf_counter() - start
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    if code != 0:
        raise RuntimeError(f"{command} exited {code} on a terminal")
    return elapsed


def startup_times(commands: dict[str, tuple[list[str], dict[str, str], bool]], cwd: Path,
                  runs: int) -> dict[str, list[float]]:
    """Each command once to warm caches, then `runs` times, interleaved with the others."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    for sample in range(runs + 1):
        for label, (command, env, on_terminal) in commands.items():
            elapsed = (timed_on_terminal if on_terminal else timed_in_pipe)(command, env, cwd)
            if sample:
                times[label].append(elapsed)
    return times
