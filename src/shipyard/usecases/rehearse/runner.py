"""The rehearsal: each job of the workflow, one at a time in dependency order, its `run:` steps
in the working tree with the event's `GITHUB_*` context, its `uses:` steps by their local
equivalents (`actions`), and what Actions passes between them wired as Actions does.

Bounds: a step gets what is left of its job's `timeout-minutes` (or its own), a job what is
left of the whole run's bound; when that passes, the step running is killed and the jobs
after it are cancelled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shipyard.errors import UsageError
from shipyard.redaction import SECRETS
from shipyard.usecases.context import Context
from shipyard.usecases.rehearse.actions import ActionPlace, action_name, run_action
from shipyard.usecases.rehearse.events import (
    Event,
    EventOptions,
    build_event,
    repository_root,
    triggered,
)
from shipyard.usecases.rehearse.expressions import (
    ExpressionError,
    condition,
    evaluate,
    implicit_success,
    interpolate,
    to_string,
    truthy,
)
from shipyard.usecases.rehearse.shell import (
    CommandFileError,
    ShellRefused,
    command_for,
    read_command_file,
    read_path_file,
    run_script,
    suffix_for,
)
from shipyard.usecases.rehearse.workflow import Job, Step, Workflow, load_workflow

# Variables of the shell running shipyard that a GitHub runner would not have: the user's own
# AWS credentials must not reach a rehearsal, and the run's context is the rehearsal's.
DROPPED_PREFIXES = ("AWS_", "GITHUB_", "RUNNER_", "ACTIONS_")
DROPPED_NAMES = frozenset({"CI"})


class RehearsalView(Protocol):
    """Told what happens, as it happens (the CLI draws it)."""

    def job_started(self, name: str) -> None: ...

    def step_started(self, job: str, step: str) -> None: ...

    def step_output(self, job: str, line: str) -> None: ...

    def step_finished(self, job: str, step: StepResult) -> None: ...

    def job_finished(self, job: JobResult) -> None: ...


@dataclass
class StepResult:
    name: str
    kind: str  # run or uses
    result: str  # success, failure, skipped, cancelled
    seconds: float = 0.0
    exit_code: int | None = None
    note: str = ""
    log: str | None = None
    tail: tuple[str, ...] = ()
    outputs: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "result": self.result,
                "seconds": round(self.seconds, 3), "exit_code": self.exit_code,
                "note": self.note, "log": self.log, "outputs": self.outputs}


@dataclass
class JobResult:
    id: str
    name: str
    result: str  # success, failure, skipped, cancelled
    seconds: float = 0.0
    note: str = ""
    environment: str | None = None
    url: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    summary: str | None = None  # the path of its step summaries

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "result": self.result,
                "seconds": round(self.seconds, 3), "note": self.note,
                "environment": self.environment, "url": self.url, "outputs": self.outputs,
                "summary": self.summary, "steps": [step.to_json() for step in self.steps]}


@dataclass
class Rehearsal:
    event: str
    workflow: str
    triggered: bool
    reason: str | None = None
    result: str = "skipped"
    seconds: float = 0.0
    workdir: str | None = None
    jobs: list[JobResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.result in ("failure", "cancelled")

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "workflow": self.workflow, "triggered": self.triggered,
                "reason": self.reason, "result": self.result,
                "seconds": round(self.seconds, 3), "workdir": self.workdir,
                "jobs": [job.to_json() for job in self.jobs]}


def failure_message(report: Rehearsal) -> str:
    """Where to look: the first job that failed and its first failed step."""
    if not report.triggered:
        return f"the rehearsal of {report.event} was not triggered: {report.reason}"
    for job in report.jobs:
        if job.result not in ("failure", "cancelled"):
            continue
        for step in job.steps:
            if step.result in ("failure", "cancelled"):
                log = f"; its log: {step.log}" if step.log else ""
                return (f"the rehearsal of {report.event} {report.result}: job {job.name}, "
                        f"step {step.name!r}: {step.note}{log}")
        return f"the rehearsal of {report.event} {report.result}: job {job.name}: {job.note}"
    return f"the rehearsal of {report.event} {report.result}"


@dataclass(frozen=True)
class RehearseOptions:
    workflow: Path
    event: EventOptions
    workdir: Path
    view: RehearsalView
    sandbox_env: Callable[[], Mapping[str, str]]
    approve: bool = False
    approver: Callable[[str, str], bool] | None = None  # (job, environment) -> approved
    protected: tuple[str, ...] = ("production",)  # environments with required reviewers
    secrets: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    ignore_paths: bool = False
    run_timeout: float = 3600.0  # seconds, the whole rehearsal


def rehearse(options: RehearseOptions, ctx: Context) -> Rehearsal:
    """Read, check, then run: the workflow and the event are checked before any step runs."""
    workflow = load_workflow(options.workflow)
    root = repository_root(options.workflow.parent)
    event = build_event(root, workflow, options.event)
    reason = triggered(workflow, event, check_paths=not options.ignore_paths)
    report = Rehearsal(event=event.key, workflow=str(options.workflow), triggered=not reason,
                       reason=reason)
    if reason:
        return report
    _prepare_workdir(options.workdir)
    for value in options.secrets.values():
        SECRETS.register(value)
    run = _Run(options, ctx, workflow, event, root)
    report.workdir = str(options.workdir)
    report.jobs = run.all_jobs()
    report.seconds = ctx.clock() - run.started
    results = {job.result for job in report.jobs}
    report.result = next((r for r in ("cancelled", "failure") if r in results), "success")
    run.write_reports(report)
    return report


def _prepare_workdir(workdir: Path) -> None:
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise UsageError(f"--workdir {workdir} is not an empty folder; name a new one (each "
                         "rehearsal keeps its logs, artifacts and summaries apart)")
    for name in ("runner-temp", "artifacts", "logs", "summaries"):
        (workdir / name).mkdir(parents=True, exist_ok=True)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "step"


class _Run:
    def __init__(self, options: RehearseOptions, ctx: Context, workflow: Workflow,
                 event: Event, root: Path) -> None:
        self.options, self.ctx, self.workflow, self.event, self.root = (
            options, ctx, workflow, event, root)
        self.view = options.view
        self.started = ctx.clock()
        self.deadline = self.started + options.run_timeout
        self.cancelled = False
        self.needs: dict[str, dict[str, Any]] = {}
        self.workdir = options.workdir
        self.event_path = self.workdir / "event.json"
        self.event_path.write_text(json.dumps(event.payload, indent=2))
        self.base_env = {key: value for key, value in ctx.env.items()
                         if not key.startswith(DROPPED_PREFIXES) and key not in DROPPED_NAMES}
        self.place = ActionPlace(root=root, workdir=self.workdir,
                                 sandbox_env=options.sandbox_env)

    # --- contexts ------------------------------------------------------------------------

    def github(self, job: str) -> dict[str, Any]:
        event = self.event
        owner = event.repository.split("/")[0]
        return {
            "event_name": event.name, "event": event.payload, "event_path": str(
                self.event_path), "ref": event.ref, "ref_name": event.ref_name,
            "ref_type": event.ref_type, "sha": event.sha, "repository": event.repository,
            "repository_owner": owner, "head_ref": event.head_ref, "base_ref": event.base_ref,
            "actor": "shipyard-rehearsal", "triggering_actor": "shipyard-rehearsal",
            "run_id": "1", "run_number": "1", "run_attempt": "1",
            "workflow": self.workflow.name, "workspace": str(self.root), "job": job,
            "server_url": "https://github.com", "api_url": "https://api.github.com",
            "token": "", "action": "", "retention_days": "90",
        }

    def github_env(self, job: str) -> dict[str, str]:
        event = self.event
        temp = self.workdir / "runner-temp"
        return {
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event.name,
            "GITHUB_EVENT_PATH": str(self.event_path), "GITHUB_REF": event.ref,
            "GITHUB_REF_NAME": event.ref_name, "GITHUB_REF_TYPE": event.ref_type,
            "GITHUB_SHA": event.sha, "GITHUB_REPOSITORY": event.repository,
            "GITHUB_REPOSITORY_OWNER": event.repository.split("/")[0],
            "GITHUB_HEAD_REF": event.head_ref, "GITHUB_BASE_REF": event.base_ref,
            "GITHUB_WORKSPACE": str(self.root), "GITHUB_WORKFLOW": self.workflow.name,
            "GITHUB_JOB": job, "GITHUB_RUN_ID": "1", "GITHUB_RUN_NUMBER": "1",
            "GITHUB_RUN_ATTEMPT": "1", "GITHUB_ACTOR": "shipyard-rehearsal",
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_API_URL":
            "https://api.github.com", "RUNNER_TEMP": str(temp), "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64", "RUNNER_NAME": "shipyard-rehearsal",
            "RUNNER_TOOL_CACHE": str(temp / "tool-cache"),
        }

    def contexts(self, job: str, **more: Any) -> dict[str, Any]:
        runner = {"os": "Linux", "arch": "X64", "name": "shipyard-rehearsal",
                  "temp": str(self.workdir / "runner-temp")}
        return {"github": self.github(job), "vars": dict(self.options.variables),
                "secrets": dict(self.options.secrets), "inputs": dict(self.event.inputs),
                "runner": runner, "env": {}, **more}

    def _evaluated_env(self, values: Mapping[str, Any], contexts: Mapping[str, Any],
                       status: Callable[[], str]) -> dict[str, str]:
        return {str(key): interpolate(to_string(value), contexts, status)
                for key, value in values.items()}

    # --- jobs ----------------------------------------------------------------------------

    def all_jobs(self) -> list[JobResult]:
        results: list[JobResult] = []
        for job in self.workflow.order():
            for matrix in job.matrix:
                label = job.name + (f" ({', '.join(map(to_string, matrix.values()))})"
                                    if matrix else "")
                results.append(self.job(job, dict(matrix), label))
            last = results[-1]
            self.needs[job.id] = {"result": last.result, "outputs": last.outputs}
        return results

    def _need_status(self, job: Job) -> str:
        if self.cancelled:
            return "cancelled"
        results = [self.needs[need]["result"] for need in job.needs]
        if any(result in ("failure", "cancelled") for result in results):
            return "failure"
        return "success" if all(result == "success" for result in results) else "skipped"

    def job(self, job: Job, matrix: dict[str, Any], label: str) -> JobResult:
        began = self.ctx.clock()
        result = JobResult(id=job.id, name=label, result="skipped")
        needs = {need: self.needs[need] for need in job.needs}
        contexts = self.contexts(job.id, needs=needs, matrix=matrix,
                                 env=self._evaluated_env(self.workflow.env, self.contexts(
                                     job.id, needs=needs, matrix=matrix), lambda: "success"))
        if self.cancelled or self.ctx.clock() >= self.deadline:
            self.cancelled = True
            result.result, result.note = "cancelled", "the rehearsal's time bound passed"
            self.view.job_finished(result)
            return result
        try:
            wanted = truthy(evaluate(condition(job.if_ if job.if_ is not None else "success()"),
                                     contexts, lambda: self._need_status(job)))
        except ExpressionError as exc:
            raise UsageError(f"jobs.{job.id}.if: {exc}") from None
        if not wanted:
            result.note = _why_skipped(job.if_, self._need_status(job),
                                       "a job it needs did not succeed")
            self.view.job_finished(result)
            return result
        self.view.job_started(label)
        environment = (interpolate(job.environment, contexts) if job.environment else None)
        result.environment = environment
        if environment and environment in self.options.protected:
            approved, how = self._approval(label, environment)
            if not approved:
                result.result, result.note = "failure", how
                result.seconds = self.ctx.clock() - began
                self.view.job_finished(result)
                return result
            result.note = how
        env = {**contexts["env"], **self._evaluated_env(job.env, contexts, lambda: "success")}
        minutes = _minutes(job.timeout_minutes, contexts, f"jobs.{job.id}.timeout-minutes")
        deadline = min(began + minutes * 60.0, self.deadline)
        steps = _JobSteps(self, job, result, {**contexts, "env": env}, env, deadline)
        steps.run_all()
        final = {**contexts, "env": env, "steps": steps.steps_context}
        result.outputs = {str(key): interpolate(to_string(value), final)
                          for key, value in job.outputs.items()}
        if job.environment_url:
            result.url = interpolate(job.environment_url, final)
        result.summary = steps.write_summary(self.workdir / "summaries" / f"{_slug(label)}.md")
        result.seconds = self.ctx.clock() - began
        self.view.job_finished(result)
        return result

    def _approval(self, job: str, environment: str) -> tuple[bool, str]:
        if self.options.approve:
            return True, f"environment {environment}: approved with --approve"
        if self.options.approver is not None and self.options.approver(job, environment):
            return True, f"environment {environment}: approved at the prompt"
        return False, (f"environment {environment} requires a review and none was given; "
                       "rerun with --approve (or answer the prompt on a terminal)")

    def write_reports(self, report: Rehearsal) -> None:
        (self.workdir / "rehearsal.json").write_text(json.dumps(report.to_json(), indent=2))
        parts = []
        for job in report.jobs:
            if job.summary:
                parts.append(f"## {job.name}\n\n" + Path(job.summary).read_text())
        (self.workdir / "summary.md").write_text("\n\n".join(parts))


class _JobSteps:
    """One job's steps, with what Actions carries from step to step."""

    def __init__(self, run: _Run, job: Job, result: JobResult, contexts: dict[str, Any],
                 env: dict[str, str], deadline: float) -> None:
        self.run, self.job, self.result = run, job, result
        self.contexts, self.env, self.deadline = contexts, env, deadline
        self.status = "success"
        self.exported: dict[str, str] = {}  # GITHUB_ENV and the local equivalents' variables
        self.path: list[str] = []  # GITHUB_PATH, newest first
        self.steps_context: dict[str, Any] = {}
        self.summaries: list[str] = []
        self.defaults = {**(run.workflow.defaults.get("run") or {}),
                         **(job.defaults.get("run") or {})}

    def _status(self) -> str:
        return "cancelled" if self.run.cancelled else self.status

    def run_all(self) -> None:
        for step in self.job.steps:
            outcome = self.step(step)
            self.result.steps.append(outcome)
            self.run.view.step_finished(self.result.name, outcome)
            if outcome.result == "cancelled":
                self.run.cancelled = True
        self.result.result = self._status()

    def step(self, step: Step) -> StepResult:
        kind = "run" if step.run is not None else "uses"
        result = StepResult(name=step.name, kind=kind, result="skipped")
        env = {**self.env, **self.exported}
        contexts = {**self.contexts, "env": env, "steps": self.steps_context,
                    "job": {"status": self._status()}}
        try:
            wanted = truthy(evaluate(condition(step.if_ if step.if_ is not None
                                               else "success()"), contexts, self._status))
            if not wanted:
                result.note = _why_skipped(step.if_, self._status(), "an earlier step failed")
                self._record(step, result, "skipped")
                return result
            step_env = self.run._evaluated_env(step.env, contexts, self._status)
            env = {**env, **step_env}
            contexts = {**contexts, "env": env}
            name = interpolate(step.name, contexts, self._status)
            result.name = name
            self.run.view.step_started(self.result.name, name)
            began = self.run.ctx.clock()
            if step.run is not None:
                self._shell(step, result, env, contexts)
            else:
                self._action(step, result, contexts)
            result.seconds = self.run.ctx.clock() - began
        except ExpressionError as exc:
            result.result, result.note = "failure", f"expression: {exc}"
        outcome = result.result
        if outcome == "failure" and self._continues(step, contexts):
            result.note = (result.note + "; " if result.note else "") + "continue-on-error"
            self._record(step, result, "success", outcome)
        else:
            self._record(step, result, outcome)
        return result

    def _continues(self, step: Step, contexts: Mapping[str, Any]) -> bool:
        value = step.continue_on_error
        if isinstance(value, bool):
            return value
        try:
            return interpolate(str(value), contexts, self._status).strip().lower() == "true"
        except ExpressionError:
            return False

    def _record(self, step: Step, result: StepResult, conclusion: str,
                outcome: str | None = None) -> None:
        if conclusion in ("failure", "cancelled"):
            self.status = conclusion if self.status == "success" else self.status
        self.steps_context[step.id] = {"outputs": dict(result.outputs),
                                       "outcome": outcome or conclusion,
                                       "conclusion": conclusion}

    def _shell(self, step: Step, result: StepResult, env: dict[str, str],
               contexts: dict[str, Any]) -> None:
        assert step.run is not None
        script_text = interpolate(step.run, contexts, self._status)
        shell = step.shell or self.defaults.get("shell")
        folder = self.run.workdir / "runner-temp" / f"{_slug(self.result.name)}-{step.index}"
        folder.mkdir(parents=True, exist_ok=True)
        files = {name: folder / name for name in ("output", "env", "path", "summary", "state")}
        for file in files.values():
            file.write_text("")
        script = folder / f"script{suffix_for(shell)}"
        script.write_text(script_text)
        try:
            command = command_for(shell, script)
        except ShellRefused as exc:
            result.result, result.note = "failure", str(exc)
            return
        directory = step.working_directory or self.defaults.get("working-directory")
        cwd = self.run.root / interpolate(str(directory), contexts) if directory else \
            self.run.root
        base_path = self.run.base_env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        process_env = {**self.run.base_env, **self.run.github_env(self.job.id),
                       **env, "GITHUB_OUTPUT": str(files["output"]),
                       "GITHUB_ENV": str(files["env"]), "GITHUB_PATH": str(files["path"]),
                       "GITHUB_STEP_SUMMARY": str(files["summary"]),
                       "GITHUB_STATE": str(files["state"])}
        process_env["PATH"] = ":".join([*self.path, env.get("PATH", base_path)])
        minutes = step.timeout_minutes
        bound = self.deadline - self.run.ctx.clock()
        if minutes is not None:
            bound = min(bound, 60.0 * _minutes(minutes, contexts, f"jobs.{self.job.id}.steps"
                                               f"[{step.index}].timeout-minutes"))
        log = (self.run.workdir / "logs" / _slug(self.result.name)
               / f"{step.index + 1:02d}-{_slug(result.name)}.log")
        result.log = str(log)
        if not cwd.is_dir():
            result.result = "failure"
            result.note = f"working-directory {cwd} does not exist"
            return
        finished = run_script(command, cwd=cwd, env=process_env, log=log, timeout=bound,
                              on_line=lambda line: self.run.view.step_output(
                                  self.result.name, line))
        result.exit_code, result.tail = finished.exit_code, finished.tail
        if finished.exit_code is None:
            over_run = self.run.ctx.clock() >= self.run.deadline
            result.result = "cancelled" if over_run else "failure"
            result.note = ("the rehearsal's time bound passed" if over_run else
                           f"timed out after {bound:.0f} s (timeout-minutes)")
        else:
            result.result = "success" if finished.exit_code == 0 else "failure"
            if finished.exit_code:
                result.note = f"exit code {finished.exit_code}" + (
                    " (command not found)" if finished.exit_code == 127 else "")
        try:
            result.outputs = read_command_file(files["output"])
            self.exported.update(read_command_file(files["env"]))
        except CommandFileError as exc:
            result.result, result.note = "failure", str(exc)
        self.path[:0] = reversed(read_path_file(files["path"]))
        text = files["summary"].read_text()
        if text.strip():
            self.summaries.append(text)

    def _action(self, step: Step, result: StepResult, contexts: dict[str, Any]) -> None:
        assert step.uses is not None
        with_ = {str(key): interpolate(to_string(value), contexts, self._status)
                 for key, value in step.with_.items()}
        result.name = result.name if step.name != step.uses else action_name(step.uses)
        outcome = run_action(step.uses, with_, self.run.place)
        result.result, result.note, result.outputs = outcome.result, outcome.note, dict(
            outcome.outputs)
        self.exported.update(outcome.env)
        self.path[:0] = list(outcome.path)

    def write_summary(self, path: Path) -> str | None:
        if not self.summaries:
            return None
        path.write_text("\n".join(self.summaries))
        return str(path)


def _why_skipped(value: Any, status: str, failed: str, width: int = 100) -> str:
    """Why an `if:` was false: what came before (its implicit success()), or the condition
    itself, on one line and not too long to read."""
    if status != "success" and (value is None or implicit_success(value)):
        return failed
    text = " ".join(str(value).split())
    return "false: if: " + (text if len(text) <= width else text[:width - 1] + "…")


def _minutes(value: Any, contexts: Mapping[str, Any], where: str) -> float:
    text = interpolate(to_string(value), contexts)
    try:
        minutes = float(text)
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not a number of minutes") from None
    if not 0 < minutes < float("inf"):
        raise UsageError(f"{where}: {text!r} must be a positive number of minutes")
    return minutes
