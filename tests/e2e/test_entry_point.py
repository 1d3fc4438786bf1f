"""The installed `shipyard` entry point, run as a user would, on a copy of GamePulse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shipyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run([sys.executable, "-m", "shipyard", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


def test_demo_on_a_fresh_clone_of_gamepulse(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "GamePulse", tmp_path / "GamePulse")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True)
    result = shipyard("-C", "GamePulse", "demo", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["version"]["version"] == "1.1.0"
    assert "latest" in data["tag_plan"]["tags"]
    plain = shipyard("-C", "GamePulse", "demo", cwd=tmp_path)
    assert "== step 2: image tag plan" in plain.stdout and "tag 1.1.0" in plain.stdout


def test_help_works_without_a_config_or_repository(tmp_path: Path) -> None:
    for args in (["--help"], ["version", "--help"], ["tags", "--help"], ["demo", "--help"]):
        result = shipyard(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "Usage" in result.stdout


def test_bare_command_prints_help_and_exits_2(tmp_path: Path) -> None:
    result = shipyard(cwd=tmp_path)
    assert result.returncode == 2
    assert "Usage" in result.stdout + result.stderr
    assert "error:" not in result.stderr
