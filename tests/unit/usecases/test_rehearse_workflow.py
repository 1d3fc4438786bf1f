"""The rehearsal's reading of a workflow: job order, the checks before any step, `on:`
filters, and the command files a step writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import UsageError
from shipyard.usecases.rehearse.events import Event, dispatch_inputs, triggered
from shipyard.usecases.rehearse.shell import CommandFileError, read_command_file
from shipyard.usecases.rehearse.workflow import job_order, load_workflow, matches_filters


def test_jobs_come_after_what_they_need_and_keep_file_order_otherwise() -> None:
    needs = {"cleanup": ("test", "build", "deploy"), "test": (), "lint": (),
             "deploy": ("build",), "build": ("test", "lint")}
    assert job_order(needs) == ["test", "lint", "build", "deploy", "cleanup"]


def test_a_cycle_is_refused_naming_its_jobs() -> None:
    with pytest.raises(UsageError, match="a, b need each other in a cycle"):
        job_order({"a": ("b",), "b": ("a",), "c": ()})


def test_an_unknown_need_is_refused() -> None:
    with pytest.raises(UsageError, match="job deploy needs 'biuld'"):
        job_order({"build": (), "deploy": ("biuld",)})


def _workflow(tmp_path: Path, text: str):
    path = tmp_path / "w.yml"
    path.write_text(text)
    return load_workflow(path)


def test_the_workflow_is_read_with_its_shapes(tmp_path: Path) -> None:
    workflow = _workflow(tmp_path, """
on: {push: {branches: [main]}, workflow_dispatch: {inputs: {v: {required: true}}}}
jobs:
  deploy:
    needs: build
    environment: {name: production, url: "https://x"}
    strategy: {matrix: {py: ["3.11", "3.12"], os: [linux]}}
    steps: [{run: "echo hi", id: say, shell: sh, working-directory: app}]
  build:
    steps: [{uses: actions/checkout@abc, with: {fetch-depth: 0}}]
""")
    assert [job.id for job in workflow.order()] == ["build", "deploy"]
    deploy = workflow.jobs["deploy"]
    assert (deploy.environment, deploy.environment_url) == ("production", "https://x")
    assert deploy.matrix == ({"py": "3.11", "os": "linux"}, {"py": "3.12", "os": "linux"})
    step = deploy.steps[0]
    assert (step.id, step.shell, step.working_directory, step.name) == (
        "say", "sh", "app", "Run echo hi")
    assert set(workflow.on) == {"push", "workflow_dispatch"}  # YAML 1.1's `on` is True


@pytest.mark.parametrize(("text", "message"), [
    ("jobs: {a: {steps: [{run: x, uses: y}]}}", "exactly one of run: and uses:"),
    ("jobs: {a: {uses: ./.github/workflows/x.yml}}", "reusable workflow"),
    ("jobs: {a: {steps: [{run: '${{ toJSON(github) }}'}]}}", "jobs.a.steps[0].run"),
    ("jobs: {a: {if: 'github.ref >= 1', steps: []}}", "jobs.a.if"),
    ("jobs: {a: {strategy: {matrix: {include: [{x: 1}]}}, steps: []}}", "plain lists"),
    ("name: x", "has no jobs"),
])
def test_what_cannot_be_rehearsed_is_refused_before_anything_runs(
        tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")
                       .replace(".", r"\.")):
        _workflow(tmp_path, text)


def test_a_missing_workflow_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="pass --workflow"):
        load_workflow(tmp_path / "nope.yml")


@pytest.mark.parametrize(("value", "patterns", "expected"), [
    ("GamePulse/app/x.py", ["GamePulse/**"], True),
    ("README.md", ["GamePulse/**"], False),
    ("GamePulse/docs/a.md", ["GamePulse/**", "!GamePulse/docs/**"], False),
    ("release/1.2", ["release/*"], True),
    ("release/1/2", ["release/*"], False),
    ("main", ["main", "develop"], True),
])
def test_filters_match_as_github_does(value: str, patterns: list[str], expected: bool) -> None:
    assert matches_filters(value, patterns) is expected


def _event(name: str, ref_name: str = "main", changed: tuple[str, ...] = (),
           base_ref: str = "") -> Event:
    return Event(key=name, name=name, ref=f"refs/heads/{ref_name}", ref_name=ref_name,
                 ref_type="branch", sha="0" * 40, head_ref="", base_ref=base_ref,
                 repository="acme/gp", payload={}, inputs={}, changed=changed)


def test_triggers_check_branches_types_and_paths(tmp_path: Path) -> None:
    workflow = _workflow(tmp_path, """
on:
  push: {branches: [main], paths: ["GamePulse/**"]}
  pull_request: {branches: [main]}
  release: {types: [created]}
jobs: {a: {steps: []}}
""")
    assert triggered(workflow, _event("push", changed=("GamePulse/a",))) is None
    assert "does not match develop" in str(
        triggered(workflow, _event("push", "develop", ("GamePulse/a",))))
    assert "no changed file" in str(triggered(workflow, _event("push", changed=("x",))))
    assert triggered(workflow, _event("push", changed=("x",)), check_paths=False) is None
    assert "base branch develop" in str(
        triggered(workflow, _event("pull_request", base_ref="develop")))
    assert "does not include published" in str(triggered(workflow, _event("release")))
    assert "no workflow_dispatch trigger" in str(
        triggered(workflow, _event("workflow_dispatch")))


def test_dispatch_inputs_take_defaults_and_refuse_bad_values(tmp_path: Path) -> None:
    workflow = _workflow(tmp_path, """
on:
  workflow_dispatch:
    inputs:
      version: {type: string, default: ""}
      environment: {type: choice, options: [staging, production], default: staging}
      needed: {required: true}
jobs: {a: {steps: []}}
""")
    assert dispatch_inputs(workflow, {"needed": "x"}) == {
        "version": "", "environment": "staging", "needed": "x"}
    with pytest.raises(UsageError, match="needed is required"):
        dispatch_inputs(workflow, {})
    with pytest.raises(UsageError, match="not one of its choices"):
        dispatch_inputs(workflow, {"needed": "x", "environment": "prod"})
    with pytest.raises(UsageError, match="--input nope is not an input"):
        dispatch_inputs(workflow, {"needed": "x", "nope": "1"})


def test_command_files_read_as_actions_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("image=reg/gp@sha256:ab\nnotes<<EOF_1\na=b\n\nc\nEOF_1\nempty=\n")
    assert read_command_file(path) == {"image": "reg/gp@sha256:ab", "notes": "a=b\n\nc",
                                       "empty": ""}
    path.write_text("x<<END\nnever closed\n")
    with pytest.raises(CommandFileError, match="no closing END"):
        read_command_file(path)
    path.write_text("just words\n")
    with pytest.raises(CommandFileError, match="neither NAME=VALUE"):
        read_command_file(path)
