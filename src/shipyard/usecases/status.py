"""`shipyard status ENV`: what an environment runs now, read and never changed.

One DescribeServices gives the task definition, the deployments (ECS controller) or task
sets (CODE_DEPLOY) with their counts, and the last events. The image and its version come
from the task definition and the image's config in the registry (the OCI label
`org.opencontainers.image.version`, as `shipyard push` labels images); the traffic from the
listeners of the load balancers in front of the service's target groups; a CodeDeploy
deployment in progress from the environment's deployment group.

A part that cannot be read (an image outside our registry, a registry that fails) is said in
the result, not raised: status reports what it could read. A service that does not exist is
NotFoundError (exit 14).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from shipyard.config import Config, EnvironmentSettings
from shipyard.domain.board import short_task_definition
from shipyard.errors import NotFoundError, ShipyardError
from shipyard.usecases.context import Context

MAX_EVENTS = 5
ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}


@dataclass(frozen=True)
class Row:
    """A deployment (ECS controller) or a task set (CODE_DEPLOY, EXTERNAL) and its counts."""

    id: str
    status: str  # PRIMARY / ACTIVE / INACTIVE ...
    task_definition: str  # family:revision
    desired: int
    running: int
    pending: int
    state: str  # a deployment's rolloutState; a task set's stabilityStatus
    scale: float | None = None  # a task set's scale, in percent


@dataclass(frozen=True)
class Route:
    """Where a listener (or one of its rules) sends traffic: (target group, percent)."""

    listener: str  # PROTOCOL:PORT
    rule: str  # "default", or "priority N"
    weights: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class InProgress:
    """A CodeDeploy deployment that has not ended."""

    id: str
    status: str


@dataclass(frozen=True)
class StatusResult:
    environment: str
    cluster: str
    service: str
    controller: str  # ECS, CODE_DEPLOY or EXTERNAL
    task_definition: str  # the ARN the service runs
    revision: int
    image: str  # as the task definition names it
    digest: str  # sha256:..., "" when unknown
    version: str  # the image's version label, "" when unknown
    note: str  # why digest or version are unknown ("" when known)
    desired: int
    running: int
    pending: int
    rows: tuple[Row, ...]
    routes: tuple[Route, ...]
    codedeploy: InProgress | None  # a blue/green deployment of the group not ended
    events: tuple[tuple[str, str], ...]  # (when, message), newest first

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"] = [asdict(row) for row in self.rows]
        data["routes"] = [{"listener": r.listener, "rule": r.rule,
                           "weights": [{"target_group": g, "percent": p}
                                       for g, p in r.weights]} for r in self.routes]
        data["events"] = [{"at": at, "message": message} for at, message in self.events]
        return data


def environment_status(name: str, config: Config, ctx: Context) -> StatusResult:
    """Read what ENV's service runs now."""
    settings = config.environment(name)
    service = ctx.ecs.service(settings.cluster, settings.service)
    if service is None:
        raise NotFoundError(f"service {settings.service} is not in cluster {settings.cluster}; "
                            f"create it, or fix environments.{name}.service")
    arn = str(service.get("taskDefinition", ""))
    definition = ctx.ecs.task_definition(arn)
    container = main_container(definition, settings)
    image = str(container.get("image", ""))
    digest, version, note = image_facts(image, definition, config, ctx)
    controller = str((service.get("deploymentController") or {}).get("type", "ECS"))
    return StatusResult(
        environment=name, cluster=settings.cluster, service=settings.service,
        controller=controller, task_definition=arn,
        revision=int(definition.get("revision", arn.rsplit(":", 1)[-1] or 0)),
        image=image, digest=digest, version=version, note=note,
        desired=int(service.get("desiredCount", 0)),
        running=int(service.get("runningCount", 0)),
        pending=int(service.get("pendingCount", 0)),
        rows=rows_of(service), routes=tuple(_routes(service, ctx)),
        codedeploy=_codedeploy_in_progress(controller, settings, ctx),
        events=tuple((_when(e.get("createdAt")), str(e.get("message", "")))
                     for e in service.get("events", [])[:MAX_EVENTS]))


def _when(value: Any) -> str:
    """An event's time, to the second, in UTC (boto3 gives a datetime)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "")


def main_container(definition: Mapping[str, Any], settings: EnvironmentSettings
                   ) -> Mapping[str, Any]:
    """The container behind the load balancer (`container_name`), else the first essential
    one, else the first."""
    containers = [c for c in definition.get("containerDefinitions", []) if isinstance(c, dict)]
    return (next((c for c in containers if c.get("name") == settings.container_name), None)
            or next((c for c in containers if c.get("essential", True)), None)
            or (containers[0] if containers else {}))


def rows_of(service: Mapping[str, Any]) -> tuple[Row, ...]:
    """The service's deployments, or its task sets when it has them (CODE_DEPLOY)."""
    if service.get("taskSets"):
        return tuple(Row(str(t.get("id", "?")), str(t.get("status", "")),
                         short_task_definition(str(t.get("taskDefinition", ""))),
                         int(t.get("computedDesiredCount", 0)), int(t.get("runningCount", 0)),
                         int(t.get("pendingCount", 0)), str(t.get("stabilityStatus", "")),
                         float((t.get("scale") or {}).get("value", 0.0)))
                     for t in service["taskSets"])
    return tuple(Row(str(d.get("id", "?")), str(d.get("status", "")),
                     short_task_definition(str(d.get("taskDefinition", ""))),
                     int(d.get("desiredCount", 0)), int(d.get("runningCount", 0)),
                     int(d.get("pendingCount", 0)), str(d.get("rolloutState", "")))
                 for d in service.get("deployments", []))


def image_facts(image: str, definition: Mapping[str, Any], config: Config, ctx: Context
                 ) -> tuple[str, str, str]:
    """(digest, version, note): read from ECR and the registry when the image is ours."""
    from shipyard.usecases.image_labels import VERSION_LABEL, image_labels
    from shipyard.usecases.target import resolve_target

    pinned = image.rpartition("@")[2] if "@sha256:" in image else ""
    try:
        target = resolve_target(config, ctx)
    except ShipyardError as error:
        return pinned, "", f"the registry is unknown: {error}"
    if not image.startswith(f"{target.registry}/"):
        return pinned, "", f"the image is outside {target.registry}; its version is not read"
    repository, digest = _split(image[len(target.registry) + 1:])
    architecture = (definition.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
    try:
        if not digest.startswith("sha256:"):
            digest = ctx.ecr.resolve(repository, digest)
        labels = image_labels(ctx, target, repository, digest,
                              ARCHITECTURES.get(architecture, architecture.lower()))
    except (ShipyardError, ValueError) as error:
        return pinned, "", f"the image could not be read: {error}"
    version = labels.get(VERSION_LABEL, "")
    return digest, version, "" if version else f"the image has no {VERSION_LABEL} label"


def _split(reference: str) -> tuple[str, str]:
    """(repository, digest or tag) of `repository@sha256:...` or `repository[:tag]`."""
    if "@" in reference:
        repository, _, digest = reference.partition("@")
        return repository, digest
    repository, _, tag = reference.rpartition(":")
    return (repository, tag) if repository and "/" not in tag else (reference, "latest")


def _routes(service: Mapping[str, Any], ctx: Context) -> list[Route]:
    """Each listener rule forwarding to one of the service's target groups, with weights."""
    groups = {str(lb["targetGroupArn"]) for lb in service.get("loadBalancers", [])
              if lb.get("targetGroupArn")}
    groups |= {str(lb["targetGroupArn"]) for t in service.get("taskSets", [])
               for lb in t.get("loadBalancers", []) if lb.get("targetGroupArn")}
    if not groups:
        return []
    balancers = sorted({lb for group in ctx.elbv2.target_groups(sorted(groups))
                        for lb in group.get("LoadBalancerArns", [])})
    routes = []
    for balancer in balancers:
        for listener in ctx.elbv2.listeners(balancer):
            where = f"{listener.get('Protocol', '?')}:{listener.get('Port', '?')}"
            for rule in ctx.elbv2.rules(str(listener["ListenerArn"])):
                weights = forward_weights(rule.get("Actions", []))
                if groups & {arn for arn, _ in weights}:
                    routes.append(Route(where, "default" if rule.get("IsDefault") else
                                        f"priority {rule.get('Priority', '?')}",
                                        tuple((_group_name(arn), percent)
                                              for arn, percent in weights)))
    return routes


def forward_weights(actions: Sequence[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """(target group ARN, percent of the traffic) of a rule's forward action; [] without one.

    >>> forward_weights([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
    ...     {"TargetGroupArn": "a", "Weight": 1}, {"TargetGroupArn": "b", "Weight": 3}]}}])
    [('a', 25.0), ('b', 75.0)]
    """
    forward = next((a for a in actions if a.get("Type") == "forward"), None)
    if forward is None:
        return []
    groups = (forward.get("ForwardConfig") or {}).get("TargetGroups") or []
    if not groups and forward.get("TargetGroupArn"):
        return [(str(forward["TargetGroupArn"]), 100.0)]
    total = sum(int(g.get("Weight", 1)) for g in groups)
    return [(str(g["TargetGroupArn"]),
             round(100.0 * int(g.get("Weight", 1)) / total, 1) if total else 0.0)
            for g in groups]


def _group_name(arn: str) -> str:
    """A target group's name, from its ARN (…:targetgroup/NAME/ID)."""
    parts = arn.split(":targetgroup/", 1)
    return parts[1].split("/", 1)[0] if len(parts) == 2 else arn


def _codedeploy_in_progress(controller: str, settings: EnvironmentSettings,
                            ctx: Context) -> InProgress | None:
    from shipyard.usecases.deploy.blue_green import NOT_ENDED

    if controller != "CODE_DEPLOY" or not (settings.codedeploy_application
                                           and settings.codedeploy_group):
        return None
    ids = ctx.codedeploy.deployment_ids(settings.codedeploy_application,
                                        settings.codedeploy_group, list(NOT_ENDED), limit=1)
    if not ids:
        return None
    return InProgress(ids[0], str(ctx.codedeploy.deployment(ids[0]).get("status", "?")))
