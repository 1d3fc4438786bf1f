"""The committed GamePulse workflow rehearsed for a pull request, in a clone of this checkout:
the jobs GitHub would run for it run and succeed, the others are skipped by their own `if:`,
and what they leave behind (test reports as an artifact, the job summaries) is there.

Slow: the test job installs Shipyard and runs GamePulse's tests under coverage."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ".github/workflows/gamepulse-ci-cd.yml"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
                           *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """This repository's HEAD, cloned, with a commit that changes a file under GamePulse/ (so
    the workflow's paths filter lets the pull request through, as it would on GitHub)."""
    if not (ROOT / WORKFLOW).exists():
        pytest.skip(f"{WORKFLOW} is not in this checkout")
    target = tmp_path / "repo"
    _git(tmp_path, "clone", "-q", str(ROOT), str(target))
    (target / "GamePulse" / "REHEARSAL.md").write_text("a change under GamePulse/\n")
    _git(target, "add", "GamePulse/REHEARSAL.md")
    _git(target, "commit", "-q", "-m", "a change for the rehearsal")
    return target


def test_a_pull_request_runs_the_tests_and_computes_the_version_only(
        clone: Path, tmp_path: Path, shipyard) -> None:
    workdir = tmp_path / "work"
    run = shipyard(None, "-C", str(clone / "GamePulse"), "rehearse", "pull-request",
                   "--pr", "42", "--workdir", str(workdir), "--json")
    assert run.code == 0, run.err
    report = run.json()
    results = {job["id"]: job["result"] for job in report["jobs"]}
    assert results == {"test": "success", "build": "success", "deploy-staging": "skipped",
                       "deploy-production": "skipped", "integration": "skipped",
                       "cleanup": "success"}
    build = next(job for job in report["jobs"] if job["id"] == "build")
    steps = {step["name"]: step["result"] for step in build["steps"]}
    # `shipyard tags` ran (the command and its flags exist); nothing was pushed.
    assert steps["Version and tags"] == "success"
    assert steps["Build (multi-arch) and push, or promote an image already built"] == "skipped"
    reports = workdir / "artifacts" / "test-reports"
    assert (reports / "tests.xml").is_file() and (reports / "coverage.xml").is_file()
    summary = (workdir / "summary.md").read_text()
    assert "pr-42" in summary  # the tags table of the pull request's version
    assert "| deploy-production | skipped |" in summary
    assert json.loads((workdir / "event.json").read_text())["pull_request"]["number"] == 42
