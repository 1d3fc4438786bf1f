"""The installed `shipyard` entry point, run as a user would, on a copy of GamePulse."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shipyard(*args: str, cwd: Path, env: dict[str, str] | None = None, merged: bool = False
             ) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would; `merged` puts stderr into stdout, as a CI log does."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("GITHUB_", "AWS_", "SHIPYARD_")) and k != "CI"}
    return subprocess.run([sys.executable, "-m", "shipyard", *args], cwd=cwd,
                          env={**clean, **(env or {})}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                          text=True, check=False)


def test_demo_runs_the_pipeline_on_a_fresh_copy_of_gamepulse(tmp_path: Path) -> None:
    """The README's main job: infrastructure, version, base image, multi-arch build, push and
    scan, verify, deploy to staging and production; shown step by step in a log, then run
    again for scripts."""
    shutil.copytree(ROOT / "GamePulse", tmp_path / "GamePulse",
                    ignore=shutil.ignore_patterns(".shipyard", "__pycache__"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True)
    env = {"SHIPYARD_SANDBOX_DIR": str(tmp_path / "sandbox")}
    try:
        # a CI log: stdout and stderr in one stream, in the order they were written
        log = shipyard("-C", "GamePulse", "demo", cwd=tmp_path, env=env, merged=True)
        assert log.returncode == 0, log.stdout
        assert_steps_in_order(log.stdout.splitlines())
        assert (tmp_path / "sandbox" / "sandbox.json").is_file()  # $SHIPYARD_SANDBOX_DIR

        result = shipyard("-C", "GamePulse", "demo", "--json", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)  # nothing but the JSON on stdout
        assert data["version"]["version"] == "1.1.0"
        assert data["base_image"].endswith("/gamepulse-base:bookworm")
        push = data["push"]
        assert push["platforms"] == ["linux/amd64", "linux/arm64"]
        assert "latest" in push["tags"] and push["digest"].startswith("sha256:")
        # reproducible: the same commit builds the same digest, so every tag is in place
        assert push["tags_set"] == [] and "1.1.0" in push["tags_unchanged"]
        assert push["scan"]["passed"] is True
        scanned = [p["platform"] for p in push["scan"]["platforms"]]
        assert scanned == ["linux/amd64", "linux/arm64/v8"]  # each platform image, not the index
        assert push["scan"]["counts"] == {"LOW": 2}  # the sample advisory, in both images
        # the sandbox provisioned GamePulse's CloudFormation resources, and both environments
        # verify with this image: staging runs on amd64, production on arm64
        assert re.match(r"\d+ resources of gamepulse.yaml", data["infrastructure"])
        assert {v["environment"]: v["ok"] for v in data["verify"]} == {
            "staging": True, "production": True}
        # the first run deployed this image to both; the same image again changes nothing
        assert [(d["plan"]["environment"], d["action"]) for d in data["deploy"]] == [
            ("staging", "unchanged"), ("production", "unchanged")]
        assert [(s["number"], s["ok"]) for s in data["steps"]] == [
            (n, True) for n in range(1, 8)]
    finally:
        shipyard("sandbox", "down", cwd=tmp_path, env=env)


# What the registry client reports as it pushes: "blob 3f2a9c1b7d0e pushed (...)", "tag X -> ..."
REGISTRY_EVENT = re.compile(r"^(blob [0-9a-f]{12} |tag \S+ -> [0-9a-f]{12}$)")


def assert_steps_in_order(lines: list[str]) -> None:
    """Each heading before its step's lines, each step closed before the next, summary last."""
    def where(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    starts = [where(f"== {n}. ") for n in range(1, 8)]
    ends = [where(f"-- {n}. done in ") for n in range(1, 8)]
    order = [i for pair in zip(starts, ends, strict=True) for i in pair]
    assert order == sorted(order) and ends[-1] < where("== summary"), lines
    assert lines[starts[0]] == "== 1. the environments' resources from infra/gamepulse.yaml"
    assert lines[starts[2]] == "== 3. base image gamepulse-base:bookworm"
    assert lines[starts[3]].startswith("== 4. build, push and scan")
    registry_lines = [i for i, line in enumerate(lines) if REGISTRY_EVENT.match(line)]
    assert registry_lines and min(registry_lines) > starts[2]  # none before its step
    # the base image's blobs in step 3, the service's blobs and tags in step 4
    assert any(starts[2] < i < ends[2] for i in registry_lines)
    assert any(starts[3] < i < ends[3] for i in registry_lines)
    assert all(starts[2] < i < ends[2] or starts[3] < i < ends[3] for i in registry_lines)
    assert "tag 1.1.0: set" in lines[starts[3]:ends[3]]
    assert lines[starts[4] + 1:ends[4]] == ["verifying staging", "verifying production",
                                           "verify staging: 11 checks passed (1 skipped)",
                                           "verify production: 11 checks passed (1 skipped)"]
    # staging rolled, production went blue/green through its canary, each health-checked
    assert lines[starts[5]] == "== 6. deploy staging (rolling)"
    assert lines[starts[6]] == "== 7. deploy production (blue/green)"
    staging, production = lines[starts[5]:ends[5]], lines[starts[6]:ends[6]]
    assert any(line.startswith("deployment ecs-svc/") and "completed: 2/2 running" in line
               for line in staging), staging
    assert "traffic: Blue 90%, Green 10%" in production  # the canary's first shift
    assert "AfterAllowTestTraffic: Succeeded" in production  # GamePulse's smoke-test hook
    for environment, part in (("staging", staging), ("production", production)):
        assert any(line.startswith("health check passed") for line in part), part
        assert re.match(rf"{environment}: runs 1\.1\.0 .* http://127\.0\.0\.1:\d+ serves "
                        r"1\.1\.0$", part[-1]), part[-1]
    summary = lines[where("== summary") + 1:]
    labels = [line.split()[0] for line in summary[:-1]]
    assert labels == ["infrastructure", "version", "tag", "base", "image", "tags", "scan",
                      "verify", "staging", "production"], summary
    assert summary[-4].startswith("verify ") and "staging ok" in summary[-4]
    assert summary[-1].startswith("the sandbox keeps running")


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
