"""Doctor's environment checks (the brief's "deploy failure": describe the service, read the
task's logs): the cluster and service, the deployments and their state, the tasks ECS
stopped with their reasons, exit codes and last log lines, the target groups' health, the
CodeDeploy group and its last deployment's failed lifecycle event, and the task definition's
secrets, roles and log groups (`verify`'s checks on the image the service runs)."""

from __future__ import annotations

from typing import Any

from shipyard.config import Config, EnvironmentSettings
from shipyard.domain.diagnosis import Group
from shipyard.errors import ShipyardError
from shipyard.usecases.context import Context

NAMES = ("cluster", "service", "deployments", "stopped tasks", "target health", "codedeploy",
         "task definition")
_ENDED = ["Succeeded", "Failed", "Stopped"]
_RECENT = 25  # deployments read to find the newest


def check_environment(group: Group, environment: str, config: Config | None,
                      ctx: Context | None) -> None:
    if config is None or ctx is None:
        for name in NAMES:
            group.skip(name, "the configuration or AWS checks failed")
        return
    try:
        settings = config.environment(environment)
    except ShipyardError as exc:
        group.failed("cluster", exc.message, "name an environment of shipyard.toml")
        for name in NAMES[1:]:
            group.skip(name, f"{environment} is not configured")
        return
    try:
        _checks(group, environment, settings, config, ctx)
    except ShipyardError as exc:  # a read refused half-way: say which, skip nothing silently
        group.failed("environment", exc.message, "grant the read it names, or check the "
                     "environment's names in shipyard.toml")


def _checks(group: Group, environment: str, settings: EnvironmentSettings, config: Config,
            ctx: Context) -> None:
    if ctx.ecs.cluster(settings.cluster) is None:
        group.fail("cluster", f"{settings.cluster} does not exist or is not ACTIVE",
                   f"create it, or fix cluster in [environments.{environment}]")
        for name in NAMES[1:]:
            group.skip(name, "no cluster")
        return
    group.ok("cluster", f"{settings.cluster} is ACTIVE")
    service = ctx.ecs.service(settings.cluster, settings.service)
    if service is None:
        group.fail("service", f"{settings.service} is not in {settings.cluster}",
                   f"create it, or fix service in [environments.{environment}]")
        for name in NAMES[2:]:
            group.skip(name, "no service")
        return
    _service(group, environment, settings, service)
    _deployments(group, service)
    _stopped_tasks(group, settings, service, ctx)
    _target_health(group, service, ctx)
    _codedeploy(group, environment, settings, service, ctx)
    _task_definition(group, environment, config, service, ctx)


def _service(group: Group, environment: str, settings: EnvironmentSettings,
             service: dict[str, Any]) -> None:
    controller = (service.get("deploymentController") or {}).get("type", "ECS")
    strategy = {"ECS": "rolling", "CODE_DEPLOY": "blue_green"}.get(controller, controller)
    counts = (f"desired {service.get('desiredCount', 0)}, running "
              f"{service.get('runningCount', 0)}, pending {service.get('pendingCount', 0)}")
    events = tuple(f"event: {e.get('message', '')}" for e in
                   (service.get("events") or [])[:5][::-1])
    detail = f"{settings.service}: the {controller} controller ({strategy}); {counts}"
    if strategy != settings.deployment:
        group.warn("service", f"{detail}; shipyard.toml says deployment = "
                   f"\"{settings.deployment}\"", f"set deployment = \"{strategy}\" in "
                   f"[environments.{environment}]: the controller decides", events)
    elif service.get("runningCount", 0) < service.get("desiredCount", 0):
        group.warn("service", f"{detail}: fewer tasks run than it wants",
                   "see the deployments and stopped tasks below", events)
    else:
        group.ok("service", detail, events)


def _deployments(group: Group, service: dict[str, Any]) -> None:
    """Each deployment or task set that is not over, and its state."""
    found = [(str(d.get("id", "")), d) for d in service.get("deployments") or []
             if d.get("status") != "INACTIVE"]
    found += [(str(t.get("id", "")), t) for t in service.get("taskSets") or []
              if t.get("status") != "INACTIVE"]
    lines = tuple(f"{ident}: {record.get('status', '?')}"
                  + (f", rollout {record['rolloutState']}" if record.get("rolloutState") else "")
                  + f", running {record.get('runningCount', 0)}/"
                    f"{record.get('desiredCount', record.get('computedDesiredCount', 0))}"
                  + (f" ({record['rolloutStateReason']})"
                     if record.get("rolloutStateReason") else "")
                  for ident, record in found)
    failed = [record for _, record in found if record.get("rolloutState") == "FAILED"]
    moving = [record for _, record in found if record.get("rolloutState") == "IN_PROGRESS"]
    if failed:
        group.fail("deployments", f"a deployment failed: "
                   f"{failed[0].get('rolloutStateReason') or 'no reason given'}",
                   "see the stopped tasks below; deploy a version that starts, or shipyard "
                   "rollback", lines)
    elif moving or len(found) > 1:
        group.warn("deployments", f"{len(found)} deployments or task sets: one is in progress",
                   "wait for it (shipyard status), or stop it with shipyard rollback", lines)
    else:
        group.ok("deployments", f"{len(found)} deployment, steady", lines)


def _stopped_tasks(group: Group, settings: EnvironmentSettings, service: dict[str, Any],
                   ctx: Context) -> None:
    from shipyard.usecases.deploy.explain import MAX_TASKS, container_lines

    evidence: list[str] = []
    crashed = 0
    definitions: dict[str, dict[str, Any]] = {}
    for task in ctx.ecs.stopped_service_tasks(settings.cluster, settings.service,
                                              limit=MAX_TASKS):
        task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1]
        reason = str(task.get("stoppedReason") or "no reason given")
        containers = task.get("containers") or []
        if _crashed(reason, containers):
            crashed += 1
        evidence.append(f"task {task_id} stopped: {reason}")
        arn = str(task.get("taskDefinitionArn", ""))
        if arn and arn not in definitions:
            definitions[arn] = ctx.ecs.task_definition(arn)
        for container in containers:
            evidence += container_lines(container, task_id, definitions.get(arn, {}),
                                        ctx.logs.last_lines)
    if not crashed:
        # tasks ECS stopped as planned: their reasons only, not their containers' logs
        planned = tuple(line for line in evidence if line.startswith("task "))
        group.ok("stopped tasks", "no recent task crashed" + (
            f" ({len(planned)} stopped by ECS as planned)" if planned else ""), planned)
        return
    fix = ("read the exit codes and log lines below; fix the image or the task definition "
           "(shipyard verify), then deploy again")
    running, desired = service.get("runningCount", 0), service.get("desiredCount", 0)
    detail = f"{crashed} recent task(s) crashed"
    if running < desired:
        group.fail("stopped tasks", f"{detail}, and {running} of {desired} run", fix,
                   tuple(evidence))
    else:
        group.warn("stopped tasks", f"{detail}; the service runs its {desired} tasks now",
                   fix, tuple(evidence))


def _crashed(reason: str, containers: list[dict[str, Any]]) -> bool:
    """Whether a task stopped on its own (a container exited non-zero, a health check
    failed) rather than as ECS planned (a scale-in, a deployment replacing it)."""
    lowered = reason.lower()
    if lowered.startswith(("scaling activity initiated by", "task stopped by")) \
            or "deployment" in lowered:
        return False  # ECS stopped it as planned; its containers' SIGTERM exit codes are noise
    if any(c.get("exitCode") not in (None, 0) for c in containers):
        return True
    return any(words in reason.lower() for words in (
        "essential container", "health check", "cannotpull", "resourceinitialization",
        "outofmemory"))


def _target_health(group: Group, service: dict[str, Any], ctx: Context) -> None:
    groups = [str(lb.get("targetGroupArn", "")) for lb in service.get("loadBalancers") or []]
    for task_set in service.get("taskSets") or []:
        groups += [str(lb.get("targetGroupArn", "")) for lb in task_set.get("loadBalancers")
                   or []]
    groups = list(dict.fromkeys(g for g in groups if g))
    if not groups:
        group.skip("target health", "the service has no load balancer")
        return
    lines, unhealthy, empty = [], 0, []
    for arn in groups:
        name = arn.rsplit(":", 1)[-1].split("/")[1] if "/" in arn else arn
        targets = ctx.elbv2.target_health(arn)
        states = [t.get("TargetHealth", {}) for t in targets]
        bad = [s for s in states if s.get("State") not in ("healthy", "unused", "draining")]
        unhealthy += len(bad)
        healthy = sum(1 for s in states if s.get("State") == "healthy")
        lines.append(f"{name}: {healthy} healthy of {len(states)}"
                     + "".join(f"; {s.get('State')} ({s.get('Reason', '')}: "
                               f"{s.get('Description', '')})" for s in bad[:3]))
        if healthy == 0 and service.get("desiredCount", 0) and \
                (service.get("deploymentController") or {}).get("type") != "CODE_DEPLOY":
            empty.append(name)
    if empty:
        group.fail("target health", f"no healthy target in {', '.join(empty)}",
                   "check the container's port and health check path against the target "
                   "group's, and the stopped tasks above", tuple(lines))
    elif unhealthy:
        group.warn("target health", f"{unhealthy} target(s) not healthy",
                   "check the health check path and the tasks' logs", tuple(lines))
    else:
        group.ok("target health", f"{len(groups)} target group(s), every target healthy",
                 tuple(lines))


def _codedeploy(group: Group, environment: str, settings: EnvironmentSettings,
                service: dict[str, Any], ctx: Context) -> None:
    controller = (service.get("deploymentController") or {}).get("type", "ECS")
    if controller != "CODE_DEPLOY":
        group.skip("codedeploy", f"{settings.service} deploys with the {controller} "
                   "controller")
        return
    application, name = settings.codedeploy_application, settings.codedeploy_group
    found = ctx.codedeploy.deployment_group(application, name) if application and name \
        else None
    if found is None:
        group.fail("codedeploy", f"no deployment group {application or '?'}/{name or '?'}",
                   f"create it, or set codedeploy_application and codedeploy_group in "
                   f"[environments.{environment}]")
        return
    config_name = found.get("deploymentConfigName", "?")
    ids = ctx.codedeploy.deployment_ids(application, name, ["Created", "Queued",
                                                            "InProgress", "Baking", "Ready",
                                                            *_ENDED], limit=_RECENT)
    if not ids:
        group.ok("codedeploy", f"group {name} ({config_name}): no deployment yet")
        return
    # ListDeployments promises no order: the newest is the one created last
    deployment = max(ctx.codedeploy.deployments(ids),
                     key=lambda d: str(d.get("createTime", "")))
    ident = str(deployment.get("deploymentId", "?"))
    status = str(deployment.get("status", "?"))
    head = f"group {name} ({config_name}): the last deployment {ident} {status}"
    if status not in ("Failed", "Stopped"):
        group.ok("codedeploy", head)
        return
    error = deployment.get("errorInformation") or {}
    evidence = [f"error {error.get('code', '?')}: {error.get('message', '')}"] if error else []
    failed_event = ""
    target = ctx.codedeploy.ecs_target(ident) or {}
    for event in target.get("lifecycleEvents") or []:
        if event.get("status") == "Failed":
            diagnostics = event.get("diagnostics") or {}
            failed_event = str(event.get("lifecycleEventName", "?"))
            evidence.append(f"{failed_event} failed: {diagnostics.get('message', '')}"
                            + (f" ({diagnostics['errorCode']})"
                               if diagnostics.get("errorCode") else ""))
            evidence += [f"  | {line}" for line in
                         str(diagnostics.get("logTail", "")).splitlines()[-5:]]
    cause = f"{head}" + (f" at its {failed_event} hook" if failed_event else "")
    group.fail("codedeploy", cause, "fix what the hook or error below says, then deploy "
               "again", tuple(evidence))


def _task_definition(group: Group, environment: str, config: Config,
                     service: dict[str, Any], ctx: Context) -> None:
    from shipyard.usecases.status import main_container
    from shipyard.usecases.verify import verify_environment

    running = str(service.get("taskDefinition", ""))
    if not running:
        group.skip("task definition", "the service runs no task definition yet")
        return
    settings = config.environment(environment)
    image = str(main_container(ctx.ecs.task_definition(running), settings).get("image", ""))
    result = verify_environment(environment, image or None, config, ctx)
    failed = [c for c in result.checks if c.failed]
    lines = tuple(f"{c.status} {c.name}: {c.detail}" for c in result.checks)
    if failed:
        group.fail("task definition", f"{len(failed)} of {len(result.checks)} checks of the "
                   f"rendered definition fail ({failed[0].name}: {failed[0].detail})",
                   "fix each failing check below (shipyard verify shows the same)", lines)
    else:
        group.ok("task definition", f"{len(result.checks)} checks pass (secrets, roles, log "
                 "groups, file systems) for the image it runs", lines)
