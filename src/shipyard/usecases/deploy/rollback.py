"""`shipyard rollback ENV`: back to what ran before, then the same truthful wait as deploy.

`plan_rollback` reads only (so `--dry-run` is the plan shown): the service, its deployment
controller, and what to go back to.

- rolling (ECS controller): while a deployment is in progress (the PRIMARY's rollout
  IN_PROGRESS beside an ACTIVE deployment that did not fail), UpdateService back to that
  ACTIVE deployment's task definition (the newest that completed, when there are several).
  ECS has no call that stops a rolling deployment that both AWS and the sandbox answer
  (StopServiceDeployment is recent, and moto has none), and a new deployment of the old
  definition is how ECS's own circuit breaker rolls back.
  Otherwise, redeploy the task definition of the last completed deployment before the
  current one: from the deployments ECS still lists (it keeps INACTIVE ones only a few
  minutes), else the newest ACTIVE revision of the family older than the running one
  (ListTaskDefinitions; revisions of deployments ECS lists as FAILED are passed over).
- blue/green (CODE_DEPLOY): a deployment not ended is stopped with StopDeployment and
  auto-rollback; otherwise a new deployment of the previous revision (the task definition of
  the last successful deployment before the current one, read from the deployments'
  AppSpecs; the same ListTaskDefinitions fallback when CodeDeploy has none).

The wait is deploy's: our UpdateService's deployment id judged by `rolling_verdict`, or the
CodeDeploy deployment followed by `follow_blue_green`. Nothing is deregistered: the task
definition rolled away from stays registered, so it can be deployed again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shipyard.config import Config, EnvironmentSettings
from shipyard.domain.board import short_task_definition
from shipyard.domain.deployment import Verdict
from shipyard.errors import ConfigError, DeploymentError, NotFoundError, ShipyardError
from shipyard.usecases.context import Context
from shipyard.usecases.deploy.blue_green import (
    NOT_ENDED,
    appspec_of,
    follow_blue_green,
    previous_revision,
    start_blue_green,
)
from shipyard.usecases.deploy.explain import explain_rolling_failure
from shipyard.usecases.deploy.report import DeployReport
from shipyard.usecases.deploy.rolling import point_service
from shipyard.usecases.deploy.watch import rolling_look, watch

STRATEGIES = {"ECS": "rolling", "CODE_DEPLOY": "blue_green"}
STOP, REDEPLOY = "stop", "redeploy"
LEFT_RUNNING = "left running (--leave-running)"  # what follow_blue_green says it did


@dataclass(frozen=True)
class RollbackPlan:
    """What `run_rollback` will do, found by reading only."""

    environment: str
    settings: EnvironmentSettings
    strategy: str  # "rolling" or "blue_green"
    action: str  # STOP a deployment in progress, or REDEPLOY an earlier task definition
    current: str  # the task definition ARN rolled away from (the one being deployed, on STOP)
    target: str  # the task definition ARN that serves after the rollback
    stopping: str  # the deployment stopped (ECS id or CodeDeploy d-...); "" on REDEPLOY
    source: str  # how `target` was found, for people
    seen_events: frozenset[str] = frozenset()  # service events before the rollback

    def summary(self) -> str:
        what = (f"stop deployment {self.stopping} and return" if self.action == STOP
                else "redeploy")
        return (f"rollback {self.environment} ({self.strategy}): {what} from "
                f"{short_task_definition(self.current)} to {short_task_definition(self.target)}"
                f"; {self.source}")

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "service": self.settings.service,
                "cluster": self.settings.cluster, "strategy": self.strategy,
                "action": self.action, "from": self.current, "to": self.target,
                "stopping": self.stopping, "source": self.source}


@dataclass(frozen=True)
class RollbackResult:
    plan: RollbackPlan
    outcome: str  # "started" (--no-wait), "succeeded" or "failed"
    deployment_id: str  # the deployment followed: ours (rolling, redeploy) or the stopped one
    reason: str
    explanation: tuple[str, ...] = ()  # why a rolling rollback failed: events, tasks, logs
    duration: float = 0.0  # seconds since the first write

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "outcome": self.outcome,
                "deployment_id": self.deployment_id, "reason": self.reason,
                "explanation": list(self.explanation), "duration": round(self.duration, 1)}

    def enforce(self) -> None:
        """Raise DeploymentError (exit 15) unless the rollback succeeded or was started."""
        if self.outcome == "failed":
            raise DeploymentError(f"rollback of {self.plan.environment} did not succeed: "
                                  f"{self.reason}; see `shipyard status "
                                  f"{self.plan.environment}`")


def plan_rollback(environment: str, config: Config, ctx: Context) -> RollbackPlan:
    """Read what runs and what ran before; decide; write nothing."""
    settings = config.environment(environment)
    service = ctx.ecs.service(settings.cluster, settings.service)
    if service is None:
        raise NotFoundError(f"service {settings.service} is not in cluster {settings.cluster}; "
                            f"there is nothing to roll back (fix [environments.{environment}] "
                            "if it is named wrong)")
    controller = str((service.get("deploymentController") or {}).get("type", "ECS"))
    if controller not in STRATEGIES:
        raise ConfigError(f"service {settings.service} uses the {controller} deployment "
                          "controller; shipyard rolls back ECS (rolling) and CODE_DEPLOY "
                          "(blue/green) services only")
    seen = frozenset(str(e.get("id")) for e in service.get("events", []))
    if controller == "ECS":
        return _rolling_plan(environment, settings, service, ctx, seen)
    return _blue_green_plan(environment, settings, service, ctx, seen)


@dataclass(frozen=True)
class RollbackOptions:
    environment: str
    dry_run: bool = False
    wait: bool = True
    timeout: float | None = None  # None: the environment's `timeout`
    yes: bool = False
    interactive: bool = False
    ask: Callable[[str], bool] = field(default=lambda question: False)


def rollback(options: RollbackOptions, config: Config, ctx: Context,
             report: Callable[[str], None], warn: Callable[[str], None]) -> RollbackResult:
    """The whole of `shipyard rollback`: plan (reads only; all of `--dry-run`), the approval
    the environment requires, the write and the wait, announced as deploys are (SNS, Slack,
    job summary, metrics) when it starts and when it ends."""
    from shipyard.usecases.deploy.approval import require_approval
    from shipyard.usecases.deploy.notify import announce

    plan = plan_rollback(options.environment, config, ctx)
    if options.dry_run:
        return RollbackResult(plan, "planned", "", "dry run: nothing was written")
    record = _record(plan, config, ctx)
    require_approval(options.environment, plan.settings, yes=options.yes,
                     interactive=options.interactive, ask=options.ask,
                     version=f"{record.version or short_task_definition(plan.target)} "
                             "(a rollback)")

    def started(deployment_id: str) -> None:
        announce(replace(record, deployment_id=deployment_id), config, ctx, warn)

    result = run_rollback(plan, ctx, wait=options.wait,
                          timeout=options.timeout or plan.settings.timeout, report=report,
                          started=started)
    if result.outcome != "started":
        announce(replace(record, outcome=result.outcome, deployment_id=result.deployment_id,
                         reason=result.reason, duration=round(result.duration, 1)),
                 config, ctx, warn)
    return result


def _record(plan: RollbackPlan, config: Config, ctx: Context) -> DeployReport:
    """The report of this rollback: what it returns to (image and version of `target`)."""
    from shipyard.usecases.status import image_facts, main_container

    definition = ctx.ecs.task_definition(plan.target)
    image = str(main_container(definition, plan.settings).get("image", ""))
    digest, version, _ = image_facts(image, definition, config, ctx)
    pinned = image
    if "@" not in image and digest:  # a tag in the definition: the digest it points at now
        host, _, name = image.rpartition("/")
        pinned = f"{host}/{name.partition(':')[0]}@{digest}" if host else \
            f"{name.partition(':')[0]}@{digest}"
    return DeployReport(command="rollback", environment=plan.environment,
                        service=plan.settings.service, cluster=plan.settings.cluster,
                        strategy=plan.strategy, outcome="started", version=version,
                        image=pinned, task_definition=plan.target, deployment_id="",
                        duration=0.0, reason="")


def run_rollback(plan: RollbackPlan, ctx: Context, *, wait: bool, timeout: float,
                 report: Callable[[str], None],
                 started: Callable[[str], None] = lambda deployment_id: None
                 ) -> RollbackResult:
    """The one write (UpdateService, StopDeployment or CreateDeployment), `started` told the
    deployment it made or stops, then the wait."""
    began = ctx.clock()
    if plan.strategy == "rolling":
        result = _run_rolling(plan, ctx, wait, timeout, report, started)
    else:
        result = _run_blue_green(plan, ctx, wait, timeout, report, started)
    return RollbackResult(plan, result[0], result[1], result[2], result[3],
                          ctx.clock() - began)


# --- rolling ---------------------------------------------------------------------------------


def _rolling_plan(environment: str, settings: EnvironmentSettings, service: Mapping[str, Any],
                  ctx: Context, seen: frozenset[str]) -> RollbackPlan:
    deployments = list(service.get("deployments", []))
    primary: Mapping[str, Any] = next(
        (d for d in deployments if d.get("status") == "PRIMARY"), {})
    current = str(primary.get("taskDefinition") or service.get("taskDefinition", ""))
    failed = {str(d.get("taskDefinition")) for d in deployments
              if d.get("rolloutState") == "FAILED"}
    if primary.get("rolloutState") == "IN_PROGRESS":
        active = [d for d in deployments if d.get("status") == "ACTIVE"
                  and d.get("rolloutState") != "FAILED" and d.get("taskDefinition") != current]
        # One that completed first: after two quick deploys, the one in between never did.
        back = _newest(d for d in active if d.get("rolloutState") == "COMPLETED") or \
            _newest(active)
        if back is not None:
            return RollbackPlan(environment, settings, "rolling", STOP, current,
                                str(back["taskDefinition"]), str(primary.get("id", "")),
                                f"deployment {back.get('id')} ran it before {primary.get('id')} "
                                "began replacing it", seen)
    earlier = _newest(d for d in deployments if d is not primary
                      and d.get("rolloutState") == "COMPLETED"
                      and d.get("taskDefinition") != current)
    if earlier is not None:
        return RollbackPlan(environment, settings, "rolling", REDEPLOY, current,
                            str(earlier["taskDefinition"]),
                            "", f"the last completed deployment before the current one "
                            f"({earlier.get('id')})", seen)
    target, source = _earlier_revision(ctx, current, failed, environment)
    return RollbackPlan(environment, settings, "rolling", REDEPLOY, current, target, "",
                        source, seen)


def _newest(deployments: Any) -> Mapping[str, Any] | None:
    found = sorted(deployments, key=lambda d: str(d.get("createdAt", "")), reverse=True)
    return found[0] if found else None


def _earlier_revision(ctx: Context, current: str, passed_over: set[str],
                      environment: str) -> tuple[str, str]:
    """The newest ACTIVE revision of `current`'s family older than it, not in `passed_over`."""
    family, _, revision = short_task_definition(current).rpartition(":")
    number = int(revision) if revision.isdigit() else 0
    for arn in ctx.ecs.task_definition_arns(family):
        older = int(arn.rsplit(":", 1)[-1]) < number
        if older and arn not in passed_over:
            return arn, (f"the newest revision of {family} before {revision} (ECS no longer "
                         "lists the deployment before the current one)")
    raise NotFoundError(f"{environment} runs {short_task_definition(current)} and there is no "
                        f"earlier deployment or ACTIVE revision of {family} to roll back to; "
                        f"deploy the version you want with shipyard deploy {environment}")


def _run_rolling(plan: RollbackPlan, ctx: Context, wait: bool, timeout: float,
                 report: Callable[[str], None], started: Callable[[str], None]
                 ) -> tuple[str, str, str, tuple[str, ...]]:
    settings = plan.settings
    ours = point_service(ctx.ecs, settings.cluster, settings.service, plan.target).deployment_id
    report(f"deployment {ours} of {short_task_definition(plan.target)} started")
    started(ours)
    if not wait:
        return "started", ours, "", ()
    verdict = watch(rolling_look(ctx.ecs, settings.cluster, settings.service, ours,
                                 set(plan.seen_events), targets=lambda: ctx.elbv2),
                    timeout=timeout, clock=ctx.clock, sleep=ctx.sleep, report=report)
    if verdict.state == "succeeded":
        return "succeeded", ours, verdict.reason, ()
    why = explain_rolling_failure(ctx.ecs, ctx.logs, settings.cluster, settings.service, ours)
    return "failed", ours, verdict.reason, tuple(why)


# --- blue/green ------------------------------------------------------------------------------


def _blue_green_plan(environment: str, settings: EnvironmentSettings,
                     service: Mapping[str, Any], ctx: Context,
                     seen: frozenset[str]) -> RollbackPlan:
    if not settings.codedeploy_application or not settings.codedeploy_group:
        raise ConfigError(f"service {settings.service} deploys blue/green but "
                          "codedeploy_application and codedeploy_group are not both set; set "
                          f"them in [environments.{environment}] in shipyard.toml")
    sets = service.get("taskSets") or []
    primary: Mapping[str, Any] = next((t for t in sets if t.get("status") == "PRIMARY"), {})
    serving = str(primary.get("taskDefinition") or service.get("taskDefinition", ""))
    codedeploy = ctx.codedeploy
    running = codedeploy.deployment_ids(settings.codedeploy_application,
                                        settings.codedeploy_group, list(NOT_ENDED), 5)
    if running:
        info = codedeploy.deployment(running[0])
        deploying = appspec_of(info.get("revision") or {})[1] or serving
        return RollbackPlan(environment, settings, "blue_green", STOP, deploying, serving,
                            running[0], f"deployment {running[0]} is {info.get('status', '?')}"
                            "; CodeDeploy's rollback returns traffic to the original task set",
                            seen)
    previous = previous_revision(codedeploy, settings)
    if previous is not None and previous.current_task_definition == serving:
        return RollbackPlan(environment, settings, "blue_green", REDEPLOY, serving,
                            previous.task_definition, "", "the last successful deployment "
                            f"before the current one ({previous.deployment_id})", seen)
    target, source = _earlier_revision(ctx, serving, set(), environment)
    return RollbackPlan(environment, settings, "blue_green", REDEPLOY, serving, target, "",
                        source, seen)


def _run_blue_green(plan: RollbackPlan, ctx: Context, wait: bool, timeout: float,
                    report: Callable[[str], None], started: Callable[[str], None]
                    ) -> tuple[str, str, str, tuple[str, ...]]:
    codedeploy = ctx.codedeploy
    if plan.action == STOP:
        ident = plan.stopping
        if codedeploy.stop_deployment(ident, True) is None:
            raise DeploymentError(f"deployment {ident} ended before it could be stopped; "
                                  f"see shipyard status {plan.environment}, and run shipyard "
                                  "rollback again to redeploy the previous revision")
        report(f"deployment {ident} stopping with rollback")
    else:
        ident = start_blue_green(codedeploy, plan.settings, plan.target,
                                 plan.settings.deployment_config or None,
                                 f"shipyard rollback {plan.environment} to "
                                 f"{short_task_definition(plan.target)}").deployment_id
        report(f"deployment {ident} of {short_task_definition(plan.target)} started")
    started(ident)
    if not wait:
        return "started", ident, "", ()
    # A rollback goes where production was before: its Ready wait needs no second approval.
    # Timed out or interrupted, it is left running: stopping it with rollback would bring
    # back the version it is rolling away from.
    verdict = follow_blue_green(codedeploy, ident, timeout=timeout, approve_traffic=True,
                                leave_running=True, clock=ctx.clock, sleep=ctx.sleep,
                                report=report, stopping=plan.action == STOP)
    outcome, reason = _judged(plan, verdict)
    if LEFT_RUNNING in reason:
        reason = (f"{reason.split(';')[0]}; deployment {ident} is left running, as stopping "
                  "it would bring back what it rolls away from; follow it with shipyard "
                  f"status {plan.environment}")
    return outcome, ident, reason, ()


def _judged(plan: RollbackPlan, verdict: Verdict) -> tuple[str, str]:
    """A redeploy succeeds when its deployment does; a stop when the deployment ended
    stopped (or failed) and rolled back, traffic on the original task set."""
    if plan.action == REDEPLOY:
        return verdict.state, verdict.reason
    if verdict.state == "failed" and verdict.rolled_back:
        return "succeeded", verdict.reason
    if verdict.state == "succeeded":
        return "failed", f"{verdict.reason} before the stop took effect; it serves now"
    return "failed", verdict.reason


def redeploy_previous_blue_green(config: Config, ctx: Context, environment: str, *,
                                 timeout: float, report: Callable[[str], None]) -> Verdict:
    """For `deploy` when the health check after a blue/green success fails: a new deployment
    of the revision before it, followed to its verdict. Never raises a Shipyard error: what
    stood in the way (no earlier revision, say) is the failed verdict's reason."""
    try:
        plan = plan_rollback(environment, config, ctx)
        report(plan.summary())
        result = run_rollback(plan, ctx, wait=True, timeout=timeout, report=report)
    except ShipyardError as error:
        return Verdict("failed", f"the rollback could not run: {error}")
    return Verdict("succeeded" if result.outcome == "succeeded" else "failed", result.reason,
                   rolled_back=result.outcome == "succeeded")
