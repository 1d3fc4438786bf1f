"""A reader's shell, for the end-to-end tests: the environment they would have and a process
run as they would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def user_env(sandbox: Path) -> dict[str, str]:
    """None of this process's CI, GitHub, AWS or Shipyard settings; this interpreter's
    `shipyard` first on PATH; the sandbox's state folder in SHIPYARD_SANDBOX_DIR."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "RUNNER_", "AWS_", "SHIPYARD_")) and k != "CI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SHIPYARD_SANDBOX_DIR"] = str(sandbox)
    return env


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 900
        ) -> subprocess.CompletedProcess[str]:
    """One process: stdout and stderr in one stream (as a CI log has them), no input."""
    return subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False)
