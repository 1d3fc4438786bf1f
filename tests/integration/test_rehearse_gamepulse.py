"""The committed GamePulse workflow rehearsed in a clone of this checkout, on a sandbox of its
own: a pull request (the jobs GitHub would run for it succeed, the others are skipped by their
own `if:`; the image is built, never pushed), then a release and a dispatch: what each left
behind (versions, one digest in ECR under its tags, the release's git tag, reports). The demo
rehearses the rest.

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


@pytest.fixture
def own_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clone: Path):
    """A sandbox of this test's own (the rehearsal provisions nothing, so GamePulse's stack
    and base image are put there first, as dev/demo does), found by the rehearsal through
    SHIPYARD_SANDBOX_DIR; the clone gets a bare `origin` for the release tag's `git push`."""
    from shipyard.config import load_config
    from shipyard.usecases.context import Context
    from shipyard.usecases.demo import publish_base_image
    from shipyard_sandbox import control

    state = tmp_path / "sandbox"
    endpoints, _ = control.up(state, region="ap-northeast-2")
    try:
        monkeypatch.setenv("SHIPYARD_SANDBOX_DIR", str(state))
        control.provision(state, clone / "GamePulse/infra/gamepulse.yaml",
                          {"GitHubRepository": "acme/gamepulse"})
        built = ROOT / "GamePulse/.build/base-oci"
        if built.is_dir():  # the layout dev/demo built; else publish_base_image builds it
            subprocess.run(["cp", "-r", str(built), str(clone / "GamePulse/.build/")],
                           check=True)
        env = endpoints.environment()
        for key, value in env.items():  # boto3 reads the process environment (the
            monkeypatch.setenv(key, value)  # rehearsal passes none of AWS_* to its steps)
        publish_base_image(load_config(clone / "GamePulse"),
                           Context(env=env, region=env["AWS_REGION"]))
        origin = tmp_path / "origin.git"
        _git(tmp_path, "init", "-q", "--bare", str(origin))
        _git(clone, "remote", "set-url", "origin", str(origin))
        _git(clone, "push", "-q", "origin", "HEAD:main")
        yield env
    finally:
        control.down(state)


def _ecr(env: dict[str, str]):
    import boto3

    return boto3.client("ecr", region_name=env["AWS_REGION"],
                        endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def _pull_request(clone: Path, sandbox: dict[str, str], tmp_path: Path, shipyard) -> None:
    """A pull request: the jobs GitHub would run for it succeed, the others are skipped by
    their own `if:`; the image is built for both platforms and pushed nowhere."""
    workdir = tmp_path / "pull-request"
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
    assert steps["Version and tags"] == "success"
    assert steps["AWS credentials (OIDC, the pull-request role, which only pulls the base "
                 "image)"] == "success"
    assert steps["Build (multi-arch) for a pull request, never pushed"] == "success"
    assert steps["Build (multi-arch) and push, or promote an image already built; attach SBOMs "
                 "and sign"] == "skipped"
    # built: both platforms, in the checkout's layout folder, under the pull request's version
    [layout] = [p for p in (clone / "GamePulse/.shipyard/oci").iterdir()
                if p.is_dir() and "pr-42" in p.name]
    from shipyard.adapters.oci_layout import OciLayout

    assert sorted(OciLayout.open(layout).platforms) == ["linux/amd64", "linux/arm64/v8"]
    # ...and pushed nowhere: GamePulse's repository (the stack made it) holds no image
    assert _ecr(sandbox).describe_images(repositoryName="gamepulse")["imageDetails"] == []
    assert "refs/tags/" not in _git(clone, "ls-remote", "origin")
    reports = workdir / "artifacts" / "test-reports"
    assert (reports / "tests.xml").is_file() and (reports / "coverage.xml").is_file()
    summary = (workdir / "summary.md").read_text()
    assert "pr-42" in summary  # the tags table of the pull request's version
    assert "Built " in summary and "(not pushed)" in summary
    assert "| deploy-production | skipped |" in summary
    assert json.loads((workdir / "event.json").read_text())["pull_request"]["number"] == 42


def test_a_pull_request_then_a_release_and_a_dispatch(
        clone: Path, own_sandbox: dict[str, str], tmp_path: Path, shipyard) -> None:
    """A pull request builds and pushes nothing; then a published release (GitHub made its
    tag), then a dispatch of another version to production: one build, the same digest under
    both versions. (A push to develop, the merge to main and a second commit on main are the
    demo's: tests/e2e/test_entry_point.py.)"""
    _pull_request(clone, own_sandbox, tmp_path, shipyard)

    def rehearse(event: str, *args: str, staging: str = "success") -> dict:
        run = shipyard(None, "-C", str(clone / "GamePulse"), "rehearse", event, *args,
                       "--workdir", str(tmp_path / event), "--json")
        assert run.code == 0, run.err
        report = run.json()
        assert {job["id"]: job["result"] for job in report["jobs"]} == {
            "test": "success", "build": "success", "deploy-staging": staging,
            "deploy-production": "success", "integration": "success", "cleanup": "success"}
        return next(job for job in report["jobs"] if job["id"] == "build")["outputs"]

    _git(clone, "tag", "-a", "v1.2.0", "-m", "v1.2.0")  # GitHub makes a release's tag
    _git(clone, "push", "-q", "origin", "v1.2.0")
    release = rehearse("release", "--approve")
    dispatch = rehearse("dispatch", "--input", "version=1.2.1",
                        "--input", "environment=production", "--approve", staging="skipped")
    assert (release["version"], dispatch["version"]) == ("1.2.0", "1.2.1")
    assert release["image"].endswith("@" + release["digest"])
    # Build once, deploy many: the dispatch promoted the release's image, not a rebuild.
    assert dispatch["digest"] == release["digest"]
    image = _ecr(own_sandbox).describe_images(repositoryName="gamepulse",
                                imageIds=[{"imageDigest": release["digest"]}])["imageDetails"][0]
    assert {"1.2.0", "1.2", "1.2.1", "latest"} <= set(image["imageTags"])
    # The dispatch's version got its git tag, pushed to origin by the build job
    assert "refs/tags/v1.2.1" in _git(clone, "ls-remote", "origin")
    # the integration job's reports, uploaded as its artifact: smoke's JSON and JUnit, and
    # the load test's summary, Locust's HTML and CSV, and the plot
    reports = tmp_path / "release/artifacts/integration-reports-production"
    smoke = json.loads((reports / "smoke-production.json").read_text())
    assert smoke and "<testsuite" in (reports / "smoke-production.xml").read_text()
    load = reports / "loadtest-production"
    assert json.loads((load / "summary.json").read_text())["passed"] is True
    assert "<html" in (load / "locust.html").read_text().lower()
    assert (load / "locust_stats.csv").read_text().startswith("Type,Name,Request Count")
    assert (load / "loadtest.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
