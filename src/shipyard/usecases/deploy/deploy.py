"""`shipyard deploy ENV`: plan (reads only), then register, deploy, and follow to the truth.

The order is the promise: every read and check first (`plan.plan_deploy`: render, verify,
diff, the service's controller), the approval, and only then the first write (the task
definition registered). A deployment is followed until it ends, and its end is judged by our
own deployment's id (rolling) or CodeDeploy's status (blue/green), never by "the service is
stable". After a success, the service is asked through its URL (`health`); a failure there
rolls back when configured. Interrupted (Ctrl-C) or timed out, our deployment is rolled back
unless the caller said to leave it running (`--leave-running`; rolling timeouts roll back
only with `--rollback-on-timeout`, as the issue of an overlong wait is not the image's).

The use case prints nothing: it reports to an `Observer` (the CLI's view) and returns a
`DeployOutcome`; `enforce` turns a failed one into its error once the caller has shown it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from shipyard.config import Config
from shipyard.domain.board import Board
from shipyard.domain.deployment import Verdict
from shipyard.errors import DeploymentError
from shipyard.usecases.context import Context
from shipyard.usecases.deploy.explain import explain_rolling_failure
from shipyard.usecases.deploy.plan import DeployPlan, plan_deploy
from shipyard.usecases.deploy.report import DeployReport
from shipyard.usecases.deploy.rolling import point_service
from shipyard.usecases.deploy.watch import TargetReader, rolling_look, watch
from shipyard.usecases.verify import enforce as enforce_verified


class Observer(Protocol):
    def step(self, text: str) -> None: ...
    def news(self, line: str) -> None: ...
    def board(self, snapshot: Board) -> None: ...
    def warn(self, line: str) -> None: ...


@dataclass(frozen=True)
class DeployOptions:
    environment: str
    image: str | None = None
    version: str | None = None
    dry_run: bool = False
    wait: bool = True
    timeout: float | None = None  # None: the environment's `timeout`
    deployment_config: str | None = None
    deployment_group: str | None = None  # None: the environment's codedeploy_group
    rollback_on_timeout: bool | None = None  # None: the environment's setting
    approve_traffic: bool = False
    leave_running: bool = False
    force: bool = False  # deploy even when nothing changed
    yes: bool = False
    interactive: bool = False
    ask: Callable[[str], bool] = field(default=lambda question: False)


@dataclass(frozen=True)
class DeployOutcome:
    """What happened: `report` is None when nothing was written (a dry run, nothing to do,
    a failed check)."""

    plan: DeployPlan
    report: DeployReport | None = None
    action: str = "deployed"  # "dry-run", "unchanged", "refused", "started", "deployed"
    explanation: tuple[str, ...] = ()  # why it failed: events, stopped tasks, their logs
    health: tuple[str, ...] = ()  # what the health check asked and heard

    @property
    def failed(self) -> bool:
        return self.report is not None and self.report.outcome == "failed"

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "plan": self.plan.to_json(),
                "report": None if self.report is None else self.report.__dict__,
                "explanation": list(self.explanation), "health": list(self.health)}


def enforce(outcome: DeployOutcome) -> None:
    """Raise the error a failed deploy ends in (after the caller has shown the outcome)."""
    if outcome.action == "refused":
        enforce_verified(outcome.plan.verify)
    if outcome.failed and outcome.report is not None:
        report = outcome.report
        back = "; rolled back" if report.rolled_back else ""
        raise DeploymentError(f"deploy {report.environment} failed: {report.reason}{back}")


def deploy(options: DeployOptions, config: Config, ctx: Context,
           observer: Observer) -> DeployOutcome:
    """Plan, approve, write, follow: the whole of `shipyard deploy`."""
    observer.step(f"planning {options.environment}: render, verify, diff")
    if options.deployment_group is not None:
        config = _with_group(config, options.environment, options.deployment_group)
    plan = plan_deploy(options.environment, options.image, options.version, config, ctx,
                       options.deployment_config)
    if options.deployment_group is not None and plan.strategy != "blue_green":
        from shipyard.errors import UsageError

        raise UsageError(f"--deployment-group is for blue/green deploys; service "
                         f"{plan.settings.service} deploys with rolling updates")
    for note in plan.notes:
        observer.warn(note)
    if plan.verify.failed:
        return DeployOutcome(plan, action="refused")
    if plan.settings.policy is not None:  # the compliance gate: reads only, before any write
        _gate(options.environment, plan, config, ctx, observer)
    if options.dry_run:
        return DeployOutcome(plan, action="dry-run")
    if not plan.changed and not options.force:
        return DeployOutcome(plan, action="unchanged")
    # what is about to change, before the approval is asked and before the first write
    observer.news(f"diff of {plan.running or 'no running definition'} and the rendered one:"
                  if plan.diff else f"the rendered definition equals {plan.running}")
    for line in plan.diff.rstrip("\n").splitlines():
        observer.news(line)
    if plan.settings.require_approval:
        from shipyard.usecases.deploy.approval import require_approval

        approved = require_approval(options.environment, plan.settings, yes=options.yes,
                                    interactive=options.interactive, ask=options.ask,
                                    version=plan.version)
        observer.news(approved)
    return _Run(options, config, ctx, observer, plan).go()


def _with_group(config: Config, environment: str, group: str) -> Config:
    """The config with `environment` deploying through CodeDeploy group `group`
    (--deployment-group); the plan then checks the group as it checks a configured one."""
    from shipyard.errors import UsageError

    if not group.strip() or group != group.strip():
        raise UsageError(f"--deployment-group {group!r} is not a group name; name a "
                         "deployment group of the environment's CodeDeploy application")
    settings = config.environments.get(environment)
    if settings is None:
        return config  # the plan refuses the unknown environment, naming it
    changed = settings.model_copy(update={"codedeploy_group": group})
    return config.model_copy(update={"environments": {**config.environments,
                                                      environment: changed}})


def _gate(environment: str, plan: DeployPlan, config: Config, ctx: Context,
          observer: Observer) -> None:
    from shipyard.usecases.policy import check_policy, enforce_policy, image_digest

    observer.step(f"checking the policy of {environment}")
    target = plan.render.target
    gate = check_policy(environment, image_digest(plan.render.image, target, ctx), config, ctx,
                        target)
    assert gate is not None
    for rule in gate.rules:
        observer.news(f"policy {rule.rule}: {'ok' if rule.passed else 'FAILED'} ({rule.detail})")
    enforce_policy(gate)


class _Run:
    """One deploy from its first write to its verdict (and the health check after it)."""

    def __init__(self, options: DeployOptions, config: Config, ctx: Context,
                 observer: Observer, plan: DeployPlan) -> None:
        self.options, self.config, self.ctx, self.observer, self.plan = \
            options, config, ctx, observer, plan
        self.settings = plan.settings
        self.timeout = options.timeout or self.settings.timeout
        self.started = ctx.clock()
        self.report = DeployReport(
            command="deploy", environment=plan.environment, service=self.settings.service,
            cluster=self.settings.cluster, strategy=plan.strategy, outcome="started",
            version=plan.version, image=plan.render.image, task_definition="",
            deployment_id="", duration=0.0, reason="")

    def go(self) -> DeployOutcome:
        self.observer.step("registering the task definition")
        arn = self.ctx.ecs.register_task_definition(self.plan.render.definition)
        self.observer.news(f"registered {arn}")
        if self.plan.strategy == "rolling":
            return self._rolling(arn)
        return self._blue_green(arn)

    # --- rolling -------------------------------------------------------------------------

    def _rolling(self, arn: str) -> DeployOutcome:
        settings = self.settings
        self.observer.step(f"rolling {settings.service} to {arn.rsplit('/', 1)[-1]}")
        seen = {str(e.get("id")) for e in self.plan.service.get("events", [])}
        start = point_service(self.ctx.ecs, settings.cluster, settings.service, arn,
                              desired_count=self.plan.desired_count)
        self._update(task_definition=arn, deployment_id=start.deployment_id)
        self._announce()
        if not self.options.wait:
            return DeployOutcome(self.plan, self.report, action="started")
        look = rolling_look(self.ctx.ecs, settings.cluster, settings.service,
                            start.deployment_id, seen, show=self.observer.board,
                            targets=self._targets)
        interrupted = False
        try:
            verdict = self._watch(look, self.timeout)
        except KeyboardInterrupt:
            interrupted = True
            verdict = Verdict("failed", "interrupted (Ctrl-C)")
        if verdict.state == "succeeded":
            return self._after_success(self._roll_back_rolling)
        explanation = tuple(explain_rolling_failure(self.ctx.ecs, self.ctx.logs,
                                                    settings.cluster, settings.service,
                                                    start.deployment_id))
        timed_out = verdict.reason.startswith("timed out")
        rolled_back = self._follow_ecs_rollback(start.deployment_id) if not timed_out \
            and not interrupted else False
        wanted = (interrupted and not self.options.leave_running) or (timed_out and (
            self.options.rollback_on_timeout if self.options.rollback_on_timeout is not None
            else self.settings.rollback_on_timeout))
        if wanted and not rolled_back:
            rolled_back = self._roll_back_rolling(verdict.reason)
        outcome = self._finish(verdict, rolled_back, explanation)
        if interrupted:
            raise KeyboardInterrupt
        return outcome

    def _targets(self) -> TargetReader:
        return self.ctx.elbv2

    def _follow_ecs_rollback(self, ours: str) -> bool:
        """When ECS's circuit breaker rolled our deployment back, follow that rollback to its
        end (within the timeout), so the command ends with the service where it says it is.
        True once the rollback completed."""
        settings = self.settings
        described = self.ctx.ecs.service(settings.cluster, settings.service) or {}
        primary = next((d for d in described.get("deployments", [])
                        if d.get("status") == "PRIMARY"), None)
        if primary is None or primary.get("id") == ours:
            return False
        definition = str(primary.get("taskDefinition", "")).rsplit("/", 1)[-1]
        self.observer.step(f"ECS rolls back to {definition}: following it")
        verdict = self._watch(rolling_look(self.ctx.ecs, settings.cluster, settings.service,
                                           str(primary.get("id")),
                                           {str(e.get("id")) for e in described.get("events",
                                                                                    [])},
                                           show=self.observer.board, targets=self._targets),
                              max(self.timeout, settings.timeout))
        if verdict.state != "succeeded":
            self.observer.warn(f"the rollback to {definition} did not complete: "
                               f"{verdict.reason}")
        return verdict.state == "succeeded"

    def _roll_back_rolling(self, why: str) -> bool:
        """Point the service back at the definition it ran before; True once that deployment
        completed (it is followed with the same watch, within the same timeout)."""
        previous = self.plan.running
        if not previous:
            return False
        self.observer.step(f"rolling back to {previous.rsplit('/', 1)[-1]} ({why})")
        settings = self.settings
        back = point_service(self.ctx.ecs, settings.cluster, settings.service, previous)
        # the environment's own timeout: a --timeout short enough to end the deploy early
        # must not also cut the rollback short
        verdict = self._watch(rolling_look(self.ctx.ecs, settings.cluster, settings.service,
                                           back.deployment_id, show=self.observer.board,
                                           targets=self._targets),
                              max(self.timeout, settings.timeout))
        if verdict.state != "succeeded":
            self.observer.warn(f"the rollback did not complete: {verdict.reason}")
        return verdict.state == "succeeded"

    # --- blue/green ----------------------------------------------------------------------

    def _blue_green(self, arn: str) -> DeployOutcome:
        from shipyard.usecases.deploy.blue_green import (
            DeployInterrupted,
            follow_blue_green,
            start_blue_green,
        )

        settings = self.settings
        if self.plan.desired_count is not None:
            self.observer.step(f"scaling {settings.service} to {self.plan.desired_count} tasks")
            self.ctx.ecs.scale_service(settings.cluster, settings.service,
                                       self.plan.desired_count)
        self.observer.step(f"creating a CodeDeploy deployment of {settings.codedeploy_group}")
        started = start_blue_green(
            self.ctx.codedeploy, settings, arn, self.options.deployment_config,
            f"shipyard deploy {self.plan.environment} {self.plan.version}".strip())
        self.observer.news(f"{started.deployment_id}: config {started.deployment_config}, "
                           f"AppSpec sha256 {started.appspec_sha256}")
        self._update(task_definition=arn, deployment_id=started.deployment_id)
        self._announce()
        if not self.options.wait:
            return DeployOutcome(self.plan, self.report, action="started")
        interrupted = False
        try:
            verdict = follow_blue_green(
                self.ctx.codedeploy, started.deployment_id, timeout=self.timeout,
                approve_traffic=self.options.approve_traffic,
                leave_running=self.options.leave_running, clock=self.ctx.clock,
                sleep=self.ctx.sleep, report=self.observer.news, show=self.observer.board)
        except DeployInterrupted as stopped:  # stopped and rolled back, or left running
            interrupted, verdict = True, stopped.verdict
        if verdict.state == "succeeded":
            return self._after_success(self._roll_back_blue_green)
        outcome = self._finish(verdict, verdict.rolled_back)
        if interrupted:
            raise KeyboardInterrupt
        return outcome

    def _roll_back_blue_green(self, why: str) -> bool:
        from shipyard.usecases.deploy.rollback import redeploy_previous_blue_green

        self.observer.step(f"rolling back: a new deployment of the previous revision ({why})")
        verdict = redeploy_previous_blue_green(self.config, self.ctx, self.plan.environment,
                                               timeout=self.timeout, report=self.observer.news)
        return verdict.state == "succeeded"

    # --- shared --------------------------------------------------------------------------

    def _after_success(self, roll_back: Callable[[str], bool]) -> DeployOutcome:
        health = self.settings.health
        if health is None:
            return self._finish(Verdict("succeeded", self._succeeded_reason()))
        from shipyard.usecases.deploy.health import check_health

        self.observer.step(f"health check: {health.url or '(no url)'}")
        checked = check_health(health, self.plan.version, self.ctx.env,
                               clock=self.ctx.clock, sleep=self.ctx.sleep,
                               key=f"environments.{self.plan.environment}.health.url")
        for line in checked.lines:
            self.observer.news(line)
        if checked.ok:
            return self._finish(Verdict("succeeded", self._succeeded_reason()),
                                health=tuple(checked.lines))
        reason = f"the health check after the deployment failed: {checked.reason}"
        rolled_back = roll_back(reason) if health.rollback else False
        return self._finish(Verdict("failed", reason), rolled_back,
                            health=tuple(checked.lines))

    def _succeeded_reason(self) -> str:
        return f"{self.plan.environment} runs {self.plan.version or self.plan.render.image}"

    def _watch(self, look: Any, timeout: float) -> Verdict:
        return watch(look, timeout=timeout, clock=self.ctx.clock, sleep=self.ctx.sleep,
                     report=self.observer.news)

    def _update(self, **changes: Any) -> None:
        self.report = replace(self.report, **changes)

    def _finish(self, verdict: Verdict, rolled_back: bool = False,
                explanation: tuple[str, ...] = (),
                health: tuple[str, ...] = ()) -> DeployOutcome:
        self._update(outcome=verdict.state, reason=verdict.reason, rolled_back=rolled_back,
                     duration=round(self.ctx.clock() - self.started, 1))
        self._announce()
        return DeployOutcome(self.plan, self.report, action="deployed",
                             explanation=explanation, health=health)

    def _announce(self) -> None:
        from shipyard.usecases.deploy.notify import announce

        announce(self.report, self.config, self.ctx, self.observer.warn)
