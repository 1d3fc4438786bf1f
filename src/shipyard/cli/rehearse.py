"""`shipyard rehearse EVENT`: run the GamePulse workflow's jobs locally, against the sandbox."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import key_value_pairs
from shipyard.errors import ShipyardError, UsageError
from shipyard.usecases.rehearse import MARKS

if TYPE_CHECKING:
    from shipyard.usecases.rehearse.runner import JobResult, StepResult

WORKFLOW = Path(".github/workflows/gamepulse-ci-cd.yml")


class _Lines:
    """The live view as plain lines: a job when it starts, each step when it ends (status,
    time, what stood for it), and the last lines of a step that failed."""

    def __init__(self, out: Out, show_output: bool) -> None:
        self.out, self.show_output = out, show_output
        self.notes = Out(as_json=False)  # under --json the lines go to stderr

    def _say(self, text: str) -> None:
        if self.out.as_json:
            self.notes.info(text)
        else:
            self.out.line(text)

    def job_started(self, name: str) -> None:
        self._say(f"job {name}")

    def step_started(self, job: str, step: str) -> None:
        return None

    def step_output(self, job: str, line: str) -> None:
        if self.show_output:
            self._say(f"    | {line}")

    def step_finished(self, job: str, step: StepResult) -> None:
        note = f"  ({step.note})" if step.note else ""
        self._say(f"  {MARKS.get(step.result, step.result)} {step.name} "
                  f"[{step.seconds:.1f}s]{note}")
        if step.result == "failure" and not self.show_output:
            for line in step.tail[-10:]:
                self._say(f"    | {line}")
            if step.log:
                self._say(f"    log: {step.log}")

    def job_finished(self, job: JobResult) -> None:
        note = f"  ({job.note})" if job.note else ""
        self._say(f"{MARKS.get(job.result, job.result)} job {job.name} [{job.seconds:.1f}s]"
                  f"{note}")


def _env_file(path: Path | None, flag: str) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments ignored)."""
    if path is None:
        return {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UsageError(f"{flag} {path} cannot be read ({exc.strerror}); pass a file of "
                         "KEY=VALUE lines") from None
    values = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, separator, value = line.partition("=")
        if not separator or not key.strip():
            raise UsageError(f"{flag} {path} line {number} is not KEY=VALUE")
        values[key.strip()] = value
    return values


def _prompt(job: str, environment: str) -> bool:
    return bool(typer.confirm(f"job {job} deploys to {environment}, which requires a review; "
                              "approve?", default=False, err=True))


@app.command("rehearse")
def rehearse_command(
    ctx: typer.Context,
    event: Annotated[str, typer.Argument(
        help="push-develop, push-main, pull-request, release or dispatch.",
        show_default=False)],
    workflow: Annotated[Path | None, typer.Option(
        "--workflow", help="The workflow file (default: .github/workflows/gamepulse-ci-cd.yml "
        "at the repository's root).", show_default=False)] = None,
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", help="An empty or new folder for logs, artifacts, step summaries and "
        "rehearsal.json (default: a new one under ~/.local/state/shipyard/rehearsals).",
        show_default=False)] = None,
    approve: Annotated[bool, typer.Option(
        "--approve", help="Approve the jobs of protected environments (the production "
        "review) without asking.")] = False,
    protected: Annotated[list[str] | None, typer.Option(
        "--protected", help="An environment with required reviewers (repeatable; default: "
        "production).", show_default=False)] = None,
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", help="dispatch: a workflow_dispatch input KEY=VALUE (repeatable).",
        show_default=False)] = None,
    tag: Annotated[str | None, typer.Option(
        "--tag", help="release: the release's tag (default: a v* tag at HEAD).",
        show_default=False)] = None,
    base: Annotated[str, typer.Option(
        "--base", help="pull-request: the branch it targets.")] = "main",
    pull_request: Annotated[int, typer.Option(
        "--pr", min=1, help="pull-request: its number.")] = 1,
    ref: Annotated[str | None, typer.Option(
        "--ref", help="dispatch: the branch it runs on (default: the current one).",
        show_default=False)] = None,
    changed_since: Annotated[str | None, typer.Option(
        "--changed-since", help="paths filters: the commit HEAD is compared with (default: "
        "HEAD^).", show_default=False)] = None,
    ignore_paths: Annotated[bool, typer.Option(
        "--ignore-paths", help="Run even when no changed file matches on.<event>.paths.")]
    = False,
    secrets: Annotated[Path | None, typer.Option(
        "--secrets", help="A file of KEY=VALUE lines for the secrets context (default: every "
        "secret empty).", show_default=False)] = None,
    variables: Annotated[Path | None, typer.Option(
        "--vars", help="A file of KEY=VALUE lines for the vars context.",
        show_default=False)] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Minutes the whole rehearsal may take.")] = 60.0,
    show_output: Annotated[bool, typer.Option(
        "--show-output", help="Print every line the steps print (always in the logs).")]
    = False,
    as_json: JsonFlag = False,
) -> None:
    """Rehearse a workflow run for EVENT: its jobs' steps, locally, against the sandbox."""
    from shipyard.cli.sandbox import sandbox_environment
    from shipyard.usecases.context import Context
    from shipyard.usecases.rehearse.events import EVENTS, EventOptions, repository_root
    from shipyard.usecases.rehearse.runner import RehearseOptions, failure_message, rehearse

    if event not in EVENTS:
        raise UsageError(f"event {event!r} is not one of {', '.join(EVENTS)}")
    state = session(ctx)
    out = Out(as_json)
    if workflow is None:
        workflow = repository_root(state.project_dir.resolve()) / WORKFLOW
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if workdir is None:
        state_home = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        workdir = state_home / "shipyard" / "rehearsals" / f"{event}-{stamp}"
    interactive = sys.stdin.isatty() and sys.stderr.isatty() and not state.env.get("CI")
    options = RehearseOptions(
        workflow=workflow.resolve(),
        event=EventOptions(event=event, base=base, pull_request=pull_request, tag=tag,
                           ref=ref, inputs=key_value_pairs(inputs, "--input", "version=1.2.0"),
                           changed_since=changed_since),
        workdir=workdir.resolve(), view=_Lines(out, show_output), sandbox_env=sandbox_environment,
        approve=approve, approver=_prompt if interactive else None,
        protected=tuple(protected or ("production",)),
        secrets=_env_file(secrets, "--secrets"), variables=_env_file(variables, "--vars"),
        ignore_paths=ignore_paths, run_timeout=timeout * 60.0)
    context = Context(env=state.env, region=state.env.get("AWS_REGION", "ap-northeast-2"))
    report = rehearse(options, context)
    if as_json:
        out.json(report.to_json())
    elif not report.triggered:
        out.line(f"not triggered: {report.reason}")
    else:
        counts = {r: sum(job.result == r for job in report.jobs)
                  for r in ("success", "failure", "skipped", "cancelled")}
        out.line(f"rehearsal {report.result}: " + ", ".join(
            f"{n} {r}" for r, n in counts.items() if n) + f" jobs in {report.seconds:.1f}s")
        for job in report.jobs:
            for key, value in job.outputs.items():
                if value:
                        out.line(f"  {job.id}.outputs.{key} = {value}")
            if job.url:
                out.line(f"  {job.id} environment {job.environment}: {job.url}")
        out.line(f"logs, artifacts and summaries: {report.workdir}")
    if report.failed:
        raise ShipyardError(failure_message(report))
