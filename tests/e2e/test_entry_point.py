"""The installed `shipyard` entry point, run as a user would, on a copy of GamePulse."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

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


@pytest.mark.slow
def test_demo_runs_the_release_pipeline_through_the_workflow(demo_run) -> None:
    """The README's main job: the sandbox, GamePulse's resources and base image, then the CI
    workflow rehearsed for a push to develop, the merge to main and a second commit on main,
    shown step by step in a log and recorded in the run's demo.json."""
    assert demo_run.code == 0, demo_run.log[-6000:]
    lines = demo_run.log.splitlines()
    sections = assert_steps_in_order(lines)
    develop, merged, second = (sections[n] for n in (4, 5, 6))
    # each rehearsal ran the workflow's jobs; only main reaches production (approved)
    assert "skip job deploy-production" in " ".join(develop)
    for part in (develop, merged, second):  # the build signed and attached signed SBOMs
        assert any("supply chain" in line and "3 manifests signed by awskms:///alias/"
                   "gamepulse-signing; 2 SBOMs attached and signed" in line
                   for line in part), part
    for part in (merged, second):
        assert any(line.startswith("ok   job deploy-production") for line in part), part
        assert any(line.startswith("  ok   Deploy to production") for line in part), part
    record = demo_run.record
    releases = {r["event"] + ("-2" if i == 2 else ""): r
                for i, r in enumerate(record["releases"])}
    dev, main, next_main = releases["push-develop"], releases["push-main"], releases[
        "push-main-2"]
    assert re.fullmatch(r"1\.0\.1-develop\.\d+", dev["version"]), dev
    assert (main["version"], next_main["version"]) == ("1.1.0", "1.2.0")
    # build once, deploy many: main promoted develop's image; the second commit was built
    assert (dev["promoted"], main["promoted"], next_main["promoted"]) == (False, True, False)
    assert main["digest"] == dev["digest"] != next_main["digest"]
    assert set(dev["environments"]) == {"staging"}
    assert set(main["environments"]) == set(next_main["environments"]) == {
        "staging", "production"}
    figures = next_main["loadtest"]
    assert figures["environment"] == "production" and figures["passed"] is True
    assert figures["requests"] > 0 and figures["p95_ms"] > 0
    for name in ("html", "plot", "summary"):
        assert Path(next_main["reports"][name]).is_file(), next_main["reports"]
    # both environments serve the second commit's version through their load balancers, as
    # the demo read and showed right after deploying them
    for environment in ("staging", "production"):
        with urllib.request.urlopen(next_main["environments"][environment] + "/version",
                                    timeout=10) as answer:
            assert json.load(answer)["version"] == "1.2.0", environment
    assert next_main["served"] == {"staging": "1.2.0", "production": "1.2.0"}
    # the merge promoted develop's image: it serves the version it was built as
    assert main["served"] == {"staging": dev["version"], "production": dev["version"]}
    assert any(line.strip().startswith("production") and "serves 1.2.0" in line
               for line in second), second
    # ECR: one digest per release, its version tags, the floating tags on the newest
    ecr = _ecr(demo_run)
    tags = {d["imageDigest"]: set(d.get("imageTags", [])) for d in ecr.describe_images(
        repositoryName="gamepulse")["imageDetails"]}
    assert {dev["version"], "1.1.0"} <= tags[main["digest"]]
    assert {"1.2.0", "1.2", "latest"} <= tags[next_main["digest"]]
    # the build signed both images (index and platform images) and attached signed SBOMs,
    # and production's gate lets what production runs through
    sbom_tags = {tag for names in tags.values() for tag in names if tag.endswith(".sbom")}
    assert len(sbom_tags) == 4, sbom_tags  # two platforms, two builds
    for command in (["verify-image", next_main["digest"]], ["verify-image", main["digest"]],
                    ["policy", "check", "production", "--image", "@" + next_main["digest"]]):
        checked = subprocess.run([sys.executable, "-m", "shipyard", "-C", "GamePulse",
                                  *command], cwd=demo_run.checkout,
                                 env={**demo_run.env, **_sandbox_env(demo_run)},
                                 capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # the release tags went to the demo's origin; the user's checkout was left alone
    origin = record["repository"]["origin"]
    assert {"refs/tags/v1.1.0", "refs/tags/v1.2.0"} <= set(
        line.split()[1] for line in _git(demo_run.checkout, "ls-remote", origin).splitlines())
    assert _git(demo_run.checkout, "rev-parse", "HEAD").strip() == demo_run.head
    assert _git(demo_run.checkout, "tag", "--list", "v1.*").strip() == ""
    assert _git(demo_run.checkout, "status", "--porcelain", "--untracked-files=no") == ""
    # ...but for its ignored build folder: HEAD's image as an OCI layout, for push --from-oci
    layouts = list((demo_run.checkout / "GamePulse/.shipyard/oci").glob("*/oci-layout"))
    assert len(layouts) == 1 and layouts[0].parent.name.startswith(dev["version"] + "-")
    summary = lines[lines.index("== summary") + 1:]
    assert any(line.startswith("load test ") and "production passed" in line
               for line in summary), summary
    assert summary[-1].startswith("the sandbox keeps running")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def _sandbox_env(demo_run) -> dict[str, str]:
    exported = subprocess.run([sys.executable, "-m", "shipyard", "sandbox", "env", "--json"],
                              cwd=demo_run.checkout, env=demo_run.env, check=True,
                              capture_output=True, text=True)
    return dict(json.loads(exported.stdout))


def _ecr(demo_run):
    import boto3

    env = _sandbox_env(demo_run)
    return boto3.client("ecr", region_name=env["AWS_REGION"],
                        endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


TITLES = {1: "the environments' resources from infra/gamepulse.yaml",
          2: "base image gamepulse-base:bookworm",
          3: "the demo's repository: this checkout's HEAD on develop",
          4: "push to develop: ", 5: "develop merged to main: ",
          6: "a second commit on main: "}


def assert_steps_in_order(lines: list[str]) -> dict[int, list[str]]:
    """Each heading before its step's lines, each step closed before the next, the summary
    last; returns each step's lines."""
    def where(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    starts = [where(f"== {n}. {TITLES[n]}") for n in TITLES]
    ends = [where(f"-- {n}. done in ") for n in TITLES]
    order = [i for pair in zip(starts, ends, strict=True) for i in pair]
    assert order == sorted(order) and ends[-1] < where("== summary"), lines
    return {n: lines[start + 1:end] for n, start, end in zip(TITLES, starts, ends, strict=True)}


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


def test_demo_without_its_workflow_or_a_repository_starts_nothing(tmp_path: Path) -> None:
    """The demo rehearses the committed workflow: without it (or outside a repository) it
    stops before the sandbox starts, with one line that says what to do."""
    service = tmp_path / "repo" / "svc"
    service.mkdir(parents=True)
    (service / "shipyard.toml").write_text('[service]\nname = "svc"\n')
    sandbox = tmp_path / "sandbox"
    outside = shipyard("-C", str(service), "demo", cwd=tmp_path,
                       env={"SHIPYARD_SANDBOX_DIR": str(sandbox)})
    assert outside.returncode == 5, outside.stderr  # git: not a repository
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    missing = shipyard("-C", str(service), "demo", cwd=tmp_path,
                       env={"SHIPYARD_SANDBOX_DIR": str(sandbox)})
    assert missing.returncode == 3, missing.stderr
    assert missing.stderr.strip().splitlines() == [
        "error: the demo rehearses the workflow .github/workflows/svc-ci-cd.yml, which is not "
        f"in {tmp_path / 'repo'}; write it with shipyard ci github, and commit it"]
    assert not sandbox.exists()
