"""Static checks of GamePulse/Dockerfile and .dockerignore, and its HEALTHCHECK run for real.

(test_base_image.py builds the Dockerfile with buildah; these checks are fast.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

GAMEPULSE_DIR = Path(__file__).resolve().parents[2]
DOCKERFILE = GAMEPULSE_DIR / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        result.append((keyword.upper(), " ".join(args.split())))
    return result


def test_base_image_is_a_build_arg_and_nothing_runs() -> None:
    steps = instructions()
    assert steps[0] == ("ARG", "BASE_IMAGE")  # no default: the build must say which base
    assert steps[1] == ("FROM", "${BASE_IMAGE}")
    assert [k for k, _ in steps].count("FROM") == 1
    assert "RUN" not in [k for k, _ in steps], "RUN would need emulation for foreign platforms"


def test_runtime_settings() -> None:
    steps = dict(instructions()[2:])  # last one wins per keyword, like most of them in Docker
    all_steps = instructions()
    env = " ".join(args for k, args in all_steps if k == "ENV")
    assert "PYTHONPATH=/app" in env
    assert "GAMEPULSE_VERSION=${VERSION}" in env
    assert "GAMEPULSE_REVISION=${REVISION}" in env
    assert ("ARG", 'VERSION=""') in all_steps
    assert ("ARG", 'REVISION=""') in all_steps
    assert steps["WORKDIR"] == "/app"
    assert steps["USER"] == "10001:10001"
    assert steps["EXPOSE"] == "8080"
    assert json.loads(steps["CMD"]) == ["python3", "-m", "gamepulse"]
    copies = [args for k, args in all_steps if k == "COPY"]
    assert "--chown=0:0 app/gamepulse/ /app/gamepulse/" in copies
    assert "--chown=0:0 version.txt /app/VERSION" in copies


def _healthcheck_command() -> list[str]:
    (args,) = [a for k, a in instructions() if k == "HEALTHCHECK"]
    exec_form = args[args.index("CMD ") + 4 :]
    return json.loads(exec_form)


def test_healthcheck_passes_against_a_live_server_and_fails_without_one(app) -> None:
    command = _healthcheck_command()
    assert command[:2] == ["python3", "-c"]
    run = [sys.executable, *command[1:]]
    env = {**os.environ, "PORT": str(app.port)}
    assert subprocess.run(run, env=env, capture_output=True, timeout=20).returncode == 0
    assert any(r.get("path") == "/health" for r in app.logs())
    app.stop()
    failed = subprocess.run(run, env=env, capture_output=True, timeout=20)
    assert failed.returncode != 0


def test_dockerignore_sends_only_the_app_and_version() -> None:
    lines = [
        line.strip()
        for line in (GAMEPULSE_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert set(lines) >= {"*", "!version.txt", "!app/gamepulse/", "**/__pycache__"}
