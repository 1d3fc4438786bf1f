"""`shipyard rehearse EVENT` on a small workflow of the GamePulse workflow's shapes (needs, if,
outputs, environment, env, step ids, GITHUB_OUTPUT/ENV/PATH/STEP_SUMMARY, uses: steps), run
against the session sandbox: each test asserts what the jobs left behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import Repo

from shipyard_testing.gamepulse_server import GAMEPULSE, Served, serve_gamepulse

pytestmark = pytest.mark.integration

WORKFLOW = """\
name: fixture
on:
  push:
    branches: [main, develop]
    paths: ["app/**"]
  pull_request:
    paths: ["app/**"]
  release:
    types: [published]
  workflow_dispatch:
    inputs:
      environment:
        type: choice
        options: [staging, production]
        default: staging
env:
  SERVICE: fixture
defaults:
  run:
    shell: bash
jobs:
  test:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - uses: actions/checkout@0123456789abcdef0123456789abcdef01234567
      - uses: actions/setup-python@0123456789abcdef0123456789abcdef01234567
        with:
          python-version: "3.12"
      - name: Versions
        id: version
        working-directory: app
        run: |
          echo "version=$(cat version.txt)-${GITHUB_REF_NAME//\\//-}" >> "$GITHUB_OUTPUT"
          echo "FROM_ENV=exported" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin"
          printf '#!/bin/sh\\necho tool-ran\\n' > "$RUNNER_TEMP/bin/tool"
          chmod +x "$RUNNER_TEMP/bin/tool" && echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
          echo "### tested $SERVICE" >> "$GITHUB_STEP_SUMMARY"
      - name: Context
        env:
          VERSION: ${{ steps.version.outputs.version }}
        run: |
          test "$FROM_ENV" = exported
          test "$(tool)" = tool-ran
          test "$CI" = true && test "$GITHUB_ACTIONS" = true
          echo "$GITHUB_EVENT_NAME $GITHUB_REF $VERSION" > "$RUNNER_TEMP/../context.txt"
      - name: Only for pull requests
        if: github.event_name == 'pull_request'
        run: echo pr > "$RUNNER_TEMP/../pr.txt"
      - name: Reports
        run: mkdir -p app/reports && echo '<ok/>' > app/reports/junit.xml
      - uses: actions/upload-artifact@0123456789abcdef0123456789abcdef01234567
        with:
          name: reports-${{ env.SERVICE }}
          path: app/reports/
      - uses: github/codeql-action/analyze@0123456789abcdef0123456789abcdef01234567
    outputs:
      version: ${{ steps.version.outputs.version }}
  build:
    needs: test
    if: github.event_name != 'pull_request'
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    outputs:
      repository: ${{ steps.create.outputs.uri }}
    steps:
      - uses: aws-actions/configure-aws-credentials@0123456789abcdef0123456789abcdef01234567
        with:
          role-to-assume: arn:aws:iam::123456789012:role/deploy
          aws-region: ap-northeast-2
      - name: Create the repository in the sandbox
        id: create
        shell: python
        env:
          NAME: rehearse/${{ github.event_name }}-${{ needs.test.outputs.version }}
        run: |
          import os, boto3
          ecr = boto3.client("ecr", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
          uri = ecr.create_repository(repositoryName=os.environ["NAME"].lower())[
              "repository"]["repositoryUri"]
          with open(os.environ["GITHUB_OUTPUT"], "a") as out:
              out.write(f"uri<<EOF\\n{uri}\\nEOF\\n")
  deploy-production:
    needs: [test, build]
    if: ${{ github.ref == 'refs/heads/main' || inputs.environment == 'production' }}
    environment:
      name: production
      url: https://example.test/${{ needs.test.outputs.version }}
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    env:
      IMAGE: ${{ needs.build.outputs.repository }}:${{ needs.test.outputs.version }}
    steps:
      - run: echo "$IMAGE" > "$RUNNER_TEMP/../deployed.txt"
  summary:
    needs: [test, build, deploy-production]
    if: always()
    runs-on: ubuntu-24.04
    timeout-minutes: 1
    steps:
      - run: echo never > "$RUNNER_TEMP/../never.txt"
        if: false
      - run: >-
          echo "| ${{ needs.build.result }} | ${{ needs.deploy-production.result }} |"
          >> "$GITHUB_STEP_SUMMARY"
"""


def _repo(tmp_path: Path, workflow: str = WORKFLOW, **extra: str) -> Repo:
    repo = Repo(tmp_path / "repo", project="")
    repo.write(".github/workflows/fixture.yml", workflow)
    repo.commit("initial", **{"app/version__txt": "1.0.0\n"}, **extra)
    repo.commit("change", **{"app/main__py": "print('x')\n"})
    return repo


def _with_step(*lines: str) -> str:
    """The workflow with a step (its YAML lines) in the test job, before Reports."""
    step = "      - " + "        ".join(f"{line}\n" for line in lines)
    return WORKFLOW.replace("      - name: Reports\n", step + "      - name: Reports\n")


def _rehearse(shipyard, repo: Repo, *args: str, workdir: Path):
    return shipyard(None, "-C", str(repo.root), "rehearse", *args, "--workflow",
                    str(repo.root / ".github/workflows/fixture.yml"),
                    "--workdir", str(workdir))


@pytest.fixture
def sandbox_dir_env(sandbox: dict[str, str], sandbox_dir: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Path:
    """`shipyard sandbox env` of the rehearsal reads the session sandbox's state."""
    monkeypatch.setenv("SHIPYARD_SANDBOX_DIR", str(sandbox_dir))
    return sandbox_dir


def test_a_push_to_main_runs_every_job_in_order_with_outputs_between_them(
        tmp_path: Path, shipyard, sandbox_dir_env: Path, ecr_client) -> None:
    repo = _repo(tmp_path)
    workdir = tmp_path / "work"
    run = _rehearse(shipyard, repo, "push-main", "--approve", "--json", workdir=workdir)
    assert run.code == 0, run.err
    report = run.json()
    assert [(job["id"], job["result"]) for job in report["jobs"]] == [
        ("test", "success"), ("build", "success"), ("deploy-production", "success"),
        ("summary", "success")]
    test, build, deploy, _ = report["jobs"]
    assert test["outputs"] == {"version": "1.0.0-main"}
    # configure-aws-credentials stood for the sandbox: the step created a repository there.
    uri = build["outputs"]["repository"]
    assert uri.endswith("/rehearse/push-1.0.0-main")
    names = [r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"]]
    assert "rehearse/push-1.0.0-main" in names
    assert (workdir / "deployed.txt").read_text() == f"{uri}:1.0.0-main\n"
    assert deploy["url"] == "https://example.test/1.0.0-main"
    assert "approved with --approve" in deploy["note"]
    assert (workdir / "context.txt").read_text() == "push refs/heads/main 1.0.0-main\n"
    assert not (workdir / "pr.txt").exists()
    # Artifacts, code scanning skipped with its reason, summaries kept.
    assert (workdir / "artifacts/reports-fixture/junit.xml").read_text() == "<ok/>\n"
    codeql = test["steps"][-1]
    assert codeql["result"] == "skipped" and "CodeQL" in codeql["note"]
    summary = (workdir / "summary.md").read_text()
    assert "### tested fixture" in summary and "| success | success |" in summary
    assert not (workdir / "never.txt").exists()
    assert json.loads((workdir / "event.json").read_text())["ref"] == "refs/heads/main"
    assert "ok   job deploy-production" in run.err  # under --json the live lines are on stderr


def test_a_pull_request_runs_the_tests_only(tmp_path: Path, shipyard) -> None:
    repo = _repo(tmp_path)
    workdir = tmp_path / "work"
    run = _rehearse(shipyard, repo, "pull-request", "--pr", "7", workdir=workdir)
    assert run.code == 0, run.err
    assert "skip job build" in run.out and "ok   job summary" in run.out
    assert (workdir / "context.txt").read_text() == "pull_request refs/pull/7/merge 1.0.0-7-merge\n"
    assert (workdir / "pr.txt").exists()


def test_production_without_approval_fails_and_says_how_to_approve(
        tmp_path: Path, shipyard, sandbox_dir_env: Path) -> None:
    repo = _repo(tmp_path)
    workdir = tmp_path / "work"
    run = _rehearse(shipyard, repo, "dispatch", "--input", "environment=production",
                    workdir=workdir)
    assert run.code == 1
    assert "FAIL job deploy-production" in run.out
    assert "--approve" in run.err and not (workdir / "deployed.txt").exists()


@pytest.mark.parametrize("name, command", [
    ("Bad flag", "python -m shipyard version --no-such-flag"),
    ("Bad command", "python -m shipyard no-such-command"),
])
def test_a_step_calling_a_command_that_does_not_exist_fails_the_rehearsal(
        tmp_path: Path, shipyard, name: str, command: str) -> None:
    repo = _repo(tmp_path, _with_step(f"name: {name}", f"run: {command}"))
    run = _rehearse(shipyard, repo, "pull-request", workdir=tmp_path / "work")
    assert run.code == 1
    assert f"step '{name}': exit code 2" in run.err
    assert "skip Reports" in run.out and "(an earlier step failed)" in run.out
    # The upload runs only on success: the report step after the failure was skipped.
    assert not (tmp_path / "work/artifacts/reports-fixture").exists()


def test_an_expression_it_cannot_evaluate_stops_it_before_any_step(
        tmp_path: Path, shipyard) -> None:
    repo = _repo(tmp_path, WORKFLOW.replace("${{ env.SERVICE }}", "${{ hashFiles('x') }}"))
    run = _rehearse(shipyard, repo, "push-develop", workdir=tmp_path / "work")
    assert run.code == 2
    assert "jobs.test.steps[6].with.name" in run.err and "hashFiles()" in run.err
    assert not (tmp_path / "work").exists()


def test_a_push_that_changes_no_watched_path_does_not_trigger(tmp_path: Path, shipyard) -> None:
    repo = _repo(tmp_path)
    repo.commit("docs", README__md="docs\n")
    run = _rehearse(shipyard, repo, "push-develop", workdir=tmp_path / "work")
    assert run.code == 0
    assert run.out.startswith("not triggered: no changed file")
    assert not (tmp_path / "work").exists()


def test_a_step_over_its_timeout_is_killed(tmp_path: Path, shipyard) -> None:
    repo = _repo(tmp_path, _with_step("name: Sleeps", "timeout-minutes: 0.02", "run: sleep 600"))
    run = _rehearse(shipyard, repo, "pull-request", workdir=tmp_path / "work")
    assert run.code == 1
    assert "step 'Sleeps': timed out" in run.err


@pytest.mark.parametrize(("args", "message"), [
    (("push-feature",), "event 'push-feature' is not one of push-develop"),
    (("push-main", "--input", "environment=production"), "--input is for the dispatch event"),
    (("dispatch", "--input", "environment=qa"), "not one of its choices"),
    (("release",), "pass --tag"),
    (("dispatch", "--input", "environment"),
     "--input 'environment' is not KEY=VALUE; write it as --input version=1.2.0"),
])
def test_bad_input_is_refused_before_anything_runs(tmp_path: Path, shipyard, args: tuple,
                                                   message: str) -> None:
    repo = _repo(tmp_path)
    run = _rehearse(shipyard, repo, *args, workdir=tmp_path / "work")
    assert run.code == 2 and message in run.err
    assert not (tmp_path / "work").exists()


def test_a_workdir_in_use_is_refused(tmp_path: Path, shipyard) -> None:
    repo = _repo(tmp_path)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "old.log").write_text("an earlier rehearsal\n")
    run = _rehearse(shipyard, repo, "pull-request", workdir=tmp_path / "work")
    assert run.code == 2 and "is not an empty folder" in run.err
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["old.log"]


@pytest.fixture
def gamepulse_staging() -> Iterator[Served]:
    with serve_gamepulse() as served:
        yield served


def test_a_load_test_threshold_not_met_fails_its_job_with_the_reports_kept(
        tmp_path: Path, shipyard, gamepulse_staging: Served) -> None:
    """The integration job's shape: the load test's exit 17 fails the job, and the upload
    that runs unless cancelled still keeps its reports."""
    reports = tmp_path / "loadtest"
    repo = _repo(tmp_path, _with_step(
        "name: Load test",
        "env:",
        "  SHIPYARD_LISTENER_GAMEPULSE_8081: ''",
        f"  GAMEPULSE_STAGING_URL: {gamepulse_staging.url}",
        f"run: python -m shipyard -C {GAMEPULSE} loadtest staging --duration 3 --users 4 "
        f"--spawn-rate 4 --min-rps 100000 --reports-dir {reports}").replace(
        "      - uses: actions/upload-artifact@0123456789abcdef0123456789abcdef01234567\n"
        "        with:\n"
        "          name: reports-${{ env.SERVICE }}\n"
        "          path: app/reports/\n",
        "      - uses: actions/upload-artifact@0123456789abcdef0123456789abcdef01234567\n"
        "        if: ${{ !cancelled() }}\n"
        "        with:\n"
        "          name: loadtest-${{ env.SERVICE }}\n"
        f"          path: {reports}/\n"))
    workdir = tmp_path / "work"
    run = _rehearse(shipyard, repo, "pull-request", workdir=workdir)
    assert run.code == 1, run.out + run.err
    assert "FAIL job test" in run.out
    assert "step 'Load test': exit code 17" in run.err
    kept = workdir / "artifacts" / "loadtest-fixture"
    summary = json.loads((kept / "summary.json").read_text())
    assert summary["passed"] is False
    assert any(t["name"] == "rps" and not t["passed"] for t in summary["thresholds"]), \
        summary["thresholds"]
    assert (kept / "locust.html").is_file() and (kept / "loadtest.png").is_file()
