"""`shipyard deploy ENV`: render, verify, diff, register and deploy; follow it to the truth."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Annotated, Any

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import DryRun, Environment, Image

MARKS = {"ok": "ok  ", "fail": "FAIL", "skipped": "skip"}

Version = Annotated[str | None, typer.Option(
    "--version", help="Deploy the image this version's tag points at in ECR (X.Y.Z).",
    show_default=False)]
NoWait = Annotated[bool, typer.Option(
    "--no-wait", help="Start the deployment and return without following it.")]
Timeout = Annotated[float | None, typer.Option(
    "--timeout", min=1, help="Seconds to follow the deployment (default: the environment's "
    "timeout, 1800).", show_default=False)]
DeploymentConfig = Annotated[str | None, typer.Option(
    "--deployment-config", help="Blue/green: the CodeDeploy deployment config (AllAtOnce, "
    "canary, linear or custom), instead of the environment's or the group's.",
    show_default=False)]
DeploymentGroup = Annotated[str | None, typer.Option(
    "--deployment-group", help="Blue/green: deploy through this CodeDeploy deployment group "
    "of the environment's application, instead of its codedeploy_group.",
    show_default=False)]
RollbackOnTimeout = Annotated[bool | None, typer.Option(
    "--rollback-on-timeout/--no-rollback-on-timeout", help="Rolling: when the timeout passes, "
    "return the service to the definition it ran before (default: the environment's "
    "rollback_on_timeout).", show_default=False)]
ApproveTraffic = Annotated[bool, typer.Option(
    "--approve-traffic", help="Blue/green: continue a deployment that waits for traffic to "
    "be rerouted (ContinueDeployment).")]
LeaveRunning = Annotated[bool, typer.Option(
    "--leave-running", help="On Ctrl-C or a blue/green timeout, stop following but leave "
    "the deployment running (default: stop it and roll back).")]
Force = Annotated[bool, typer.Option(
    "--force", help="Deploy even when the rendered definition equals the running one.")]
Yes = Annotated[bool, typer.Option(
    "--yes", "-y", help="Approve an environment with require_approval without asking (in CI: "
    "the job's environment protection approved it).")]


class _Observer:
    """The use case's observer: the deploy view, plus warnings on it."""

    def __init__(self, view: Any) -> None:
        self.view = view

    def step(self, text: str) -> None:
        self.view.step(text)

    def news(self, line: str) -> None:
        self.view.news(line)

    def board(self, snapshot: Any) -> None:
        self.view.board(snapshot)

    def warn(self, line: str) -> None:
        self.view.news(f"warning: {line}")


@app.command("deploy")
def deploy_command(ctx: typer.Context, environment: Environment, image: Image = None,
                   version: Version = None, dry_run: DryRun = False, no_wait: NoWait = False,
                   timeout: Timeout = None, deployment_config: DeploymentConfig = None,
                   deployment_group: DeploymentGroup = None,
                   rollback_on_timeout: RollbackOnTimeout = None,
                   approve_traffic: ApproveTraffic = False,
                   leave_running: LeaveRunning = False, force: Force = False, yes: Yes = False,
                   as_json: JsonFlag = False) -> None:
    """Deploy ENV: render, verify and diff its task definition, register it, and follow the
    rolling or blue/green deployment its service's controller calls for to the end."""
    from shipyard.cli.deploy_view import DeployView
    from shipyard.usecases.deploy.deploy import DeployOptions, deploy, enforce

    state = session(ctx)
    config = state.config()
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    options = DeployOptions(environment, image=image, version=version, dry_run=dry_run,
                            wait=not no_wait, timeout=timeout,
                            deployment_config=deployment_config,
                            deployment_group=deployment_group,
                            rollback_on_timeout=rollback_on_timeout,
                            approve_traffic=approve_traffic, leave_running=leave_running,
                            force=force, yes=yes, interactive=interactive)
    out = Out(as_json)
    with DeployView(as_json, live=out.fancy) as view:
        options = replace(options, ask=lambda question: _asked(view, question))
        outcome = deploy(options, config, state.context(config), _Observer(view))
    if as_json:
        out.json(outcome.to_json())
    else:
        _show(out, outcome)
    enforce(outcome)


def _asked(view: Any, question: str) -> bool:
    """The approval prompt on the terminal (the question ends in its own [y/N]), with the
    live panel out of its way."""
    from shipyard.usecases.deploy.approval import is_yes

    with view.paused():
        sys.stderr.write(f"{question} ")
        sys.stderr.flush()
        return is_yes(sys.stdin.readline())


def _show(out: Out, outcome: Any) -> None:
    plan = outcome.plan
    version = f" (version {plan.version})" if plan.version else ""
    out.line(f"deploy {plan.environment}: {plan.render.image}{version}, {plan.strategy}")
    if outcome.action in ("refused", "dry-run"):
        for check in plan.verify.checks:
            out.line(f"{MARKS[check.status]} {check.name}: {check.detail}")
    if outcome.action == "dry-run":
        out.line(plan.diff.rstrip("\n") if plan.diff else f"no changes: the service runs "
                 f"{plan.running}, as rendered")
        scale = f", scaling it to {plan.desired_count} tasks" if plan.desired_count else ""
        out.line(f"dry run: would register the definition and deploy it to "
                 f"{plan.settings.service} ({plan.strategy}{scale}); nothing was written")
        return
    if outcome.action == "unchanged":
        out.line(f"nothing to deploy: {plan.settings.service} runs {plan.running}, as "
                 "rendered (--force deploys it again)")
        return
    report = outcome.report
    if report is None:
        return
    for line in outcome.explanation:
        out.line(line)
    if outcome.action == "started":
        out.line(f"started {report.deployment_id} ({report.task_definition}); not waiting "
                 f"(shipyard status {plan.environment} follows it)")
    elif report.outcome == "succeeded":
        out.line(f"deployed: {report.reason} ({report.deployment_id}, "
                 f"{report.duration:g}s)")
