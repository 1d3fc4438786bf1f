"""The seam between builders and processes: a plain function that runs one command.

Builders never call `subprocess` themselves; they take a `CommandRunner`, so unit tests pass a
fake function that records the command line and answers with canned output (the same idea as
httpx's `MockTransport`). `run_command` is the real one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# Exit codes a shell would give; fakes use them too, so "missing" looks the same everywhere.
NOT_FOUND = 127
TIMED_OUT = 124


@dataclass(frozen=True)
class CommandResult:
    """What a finished command left behind."""

    returncode: int
    stdout: str = ""
    stderr: str = ""


class CommandRunner(Protocol):
    """Run `argv` with `env` added to this process's environment, and wait for it."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float | None = None,
    ) -> CommandResult: ...


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> CommandResult:
    """Run a command with captured text output; a missing program gives exit code 127."""
    # LC_ALL=C keeps tool messages in English, which the error tables match on.
    full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
    try:
        done = subprocess.run(
            list(argv), env=full_env, cwd=cwd, capture_output=True, text=True,
            errors="replace", timeout=timeout, check=False,
        )
    except FileNotFoundError:
        return CommandResult(NOT_FOUND, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return CommandResult(TIMED_OUT, "", f"{argv[0]} did not answer within {timeout} s")
    return CommandResult(done.returncode, done.stdout, done.stderr)
