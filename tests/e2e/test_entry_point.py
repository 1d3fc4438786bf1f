"""The installed `shipyard` entry point, run as a user would, on a copy of GamePulse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shipyard(*args: str, cwd: Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("GITHUB_", "AWS_", "SHIPYARD_"))}
    return subprocess.run([sys.executable, "-m", "shipyard", *args], cwd=cwd,
                          env={**clean, **(env or {})}, capture_output=True, text=True,
                          check=False)


def test_demo_runs_the_pipeline_on_a_fresh_copy_of_gamepulse(tmp_path: Path) -> None:
    """The README's main job: version, base image, multi-arch build, push and scan."""
    shutil.copytree(ROOT / "GamePulse", tmp_path / "GamePulse",
                    ignore=shutil.ignore_patterns(".shipyard", "__pycache__"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True)
    env = {"SHIPYARD_SANDBOX_DIR": str(tmp_path / "sandbox")}
    try:
        result = shipyard("-C", "GamePulse", "demo", "--json", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["version"]["version"] == "1.1.0"
        assert data["base_image"].endswith("/gamepulse-base:bookworm")
        push = data["push"]
        assert push["platforms"] == ["linux/amd64", "linux/arm64"]
        assert "latest" in push["tags"] and push["digest"].startswith("sha256:")
        assert push["scan"]["passed"] is True
        scanned = [p["platform"] for p in push["scan"]["platforms"]]
        assert scanned == ["linux/amd64", "linux/arm64/v8"]  # each platform image, not the index
        assert push["scan"]["counts"] == {"LOW": 2}  # the sample advisory, in both images
        # the sandbox provisioned GamePulse's CloudFormation resources, and both environments
        # verify with this image: staging runs on amd64, production on arm64
        assert {v["environment"]: v["ok"] for v in data["verify"]} == {
            "staging": True, "production": True}
        again = shipyard("-C", "GamePulse", "demo", cwd=tmp_path, env=env)
        assert again.returncode == 0, again.stderr
        assert "tag 1.1.0: already points at this image" in again.stdout  # reproducible
    finally:
        shipyard("sandbox", "down", cwd=tmp_path, env=env)


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
