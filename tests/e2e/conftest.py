"""The README's main job, run once per test session and shared: `shipyard -C GamePulse demo`
in a fresh clone of this repository (with links to the checkout's `.venv`), against a sandbox
started in a state folder of its own, stopped at the end of the session."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipyard_testing.user_shell import run, user_env

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DemoRun:
    checkout: Path  # the clone the demo ran in, as a user's checkout
    env: dict[str, str]  # a user's shell: shipyard on PATH, SHIPYARD_SANDBOX_DIR set
    head: str  # the checkout's HEAD before the demo
    log: str  # what the demo printed, stdout and stderr in one stream, as a CI log has it
    code: int
    record: dict[str, Any]  # the run's demo.json


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("demo")
    checkout = root / "checkout"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True)
    (checkout / ".venv").symlink_to(sys.prefix)  # what dev/bootstrap made, as in a checkout
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, check=True,
                          capture_output=True, text=True).stdout.strip()
    env = user_env(root / "sandbox")
    try:
        done = run(["shipyard", "-C", "GamePulse", "demo"], checkout, env, timeout=2400)
        records = sorted((root / "sandbox" / "demo" / "runs").glob("*/demo.json"))
        record = json.loads(records[-1].read_text()) if records else {}
        yield DemoRun(checkout, env, head, done.stdout, done.returncode, record)
    finally:
        run(["shipyard", "sandbox", "down"], checkout, env)
