"""What a deploy will do, found out by reading only: the first half of `shipyard deploy`.

`plan_deploy` renders the environment's task definition for the image, runs every `verify`
check, diffs it against the definition the service runs, and reads the service's deployment
controller once (ECS: rolling; CODE_DEPLOY: blue/green). It writes nothing, so `--dry-run`
is this plan shown, and a refused deploy has changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipyard.config import Config, EnvironmentSettings
from shipyard.domain.appspec import TASK_DEFINITION_PLACEHOLDER
from shipyard.domain.names import parse_image_reference
from shipyard.errors import ConfigError, ConflictError, NotFoundError, UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.deploy.blue_green import BlueGreenPlan, plan_blue_green
from shipyard.usecases.deploy.health import health_url
from shipyard.usecases.diff import definition_diff
from shipyard.usecases.image_labels import image_version
from shipyard.usecases.render import RenderResult
from shipyard.usecases.verify import VerifyResult, verify_environment

STRATEGIES = {"ECS": "rolling", "CODE_DEPLOY": "blue_green"}
# The image to deploy when neither --image nor --version names one: in CI, the workflow sets
# it from `shipyard push`'s `image` output (a job output between jobs).
IMAGE_VARIABLE = "SHIPYARD_IMAGE"


@dataclass(frozen=True)
class DeployPlan:
    """Everything `deploy` decided before its first write."""

    environment: str
    settings: EnvironmentSettings
    strategy: str  # "rolling" or "blue_green", from the service's deployment controller
    verify: VerifyResult
    service: dict[str, Any]  # DescribeServices' answer, read once
    running: str  # the task definition ARN the service runs now
    diff: str  # unified diff of the running definition and the rendered one ("" when equal)
    version: str  # the version deployed ("" when the image says none)
    desired_count: int | None  # set on the first deploy of a service that runs no tasks
    notes: tuple[str, ...] = ()
    blue_green: BlueGreenPlan | None = None  # the CodeDeploy side, checked

    @property
    def render(self) -> RenderResult:
        return self.verify.render

    @property
    def changed(self) -> bool:
        return bool(self.diff) or self.desired_count is not None

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "strategy": self.strategy,
                "service": self.settings.service, "cluster": self.settings.cluster,
                "image": self.render.image, "version": self.version,
                "running": self.running, "changed": self.changed, "diff": self.diff,
                "desired_count": self.desired_count, "notes": list(self.notes),
                "checks": self.verify.to_json()["checks"],
                "codedeploy": None if self.blue_green is None else {
                    "application": self.blue_green.application,
                    "group": self.blue_green.group,
                    "deployment_config": self.blue_green.config_shown}}


def deploy_image(image: str | None, version: str | None) -> str | None:
    """The --image to render with: --image as given, or --version's tag; None for this
    commit's version (what `shipyard push` pushed for it)."""
    if image and version:
        raise UsageError("--image and --version both name the image; pass one of them")
    if version is None:
        return image
    from shipyard.domain.tagplan import version_tag
    from shipyard.usecases.version import parse_manual

    return f":{version_tag(parse_manual(version))}"


def plan_deploy(environment: str, image: str | None, version: str | None, config: Config,
                ctx: Context, deployment_config: str | None = None) -> DeployPlan:
    """Read and check everything a deploy of `environment` needs; write nothing."""
    settings = config.environment(environment)
    if settings.health is not None:  # a URL that cannot be filled in fails now, not after
        health_url(settings.health, ctx.env, key=f"environments.{environment}.health.url")
    chosen = deploy_image(image, version)
    if chosen is None and ctx.env.get(IMAGE_VARIABLE):  # CI: the push step's `image` output
        chosen = ctx.env[IMAGE_VARIABLE]
    checked = verify_environment(environment, chosen, config, ctx)
    service = ctx.ecs.service(settings.cluster, settings.service)
    if service is None:
        raise NotFoundError(f"service {settings.service} is not in cluster {settings.cluster};"
                            f" create it first (fix [environments.{environment}] if it is "
                            "named wrong)")
    controller = (service.get("deploymentController") or {}).get("type", "ECS")
    strategy = STRATEGIES.get(controller)
    if strategy is None:
        raise UsageError(f"service {settings.service} uses the {controller} deployment "
                         "controller; Shipyard deploys ECS (rolling) and CODE_DEPLOY "
                         "(blue/green) services")
    notes = []
    if strategy != settings.deployment:
        notes.append(f"the service's {controller} controller decides: {strategy} (shipyard.toml "
                     f"says deployment = \"{settings.deployment}\"; fix it to match)")
    if strategy == "blue_green" and not (settings.codedeploy_application
                                         and settings.codedeploy_group):
        raise ConfigError(f"service {settings.service} deploys with CodeDeploy; set "
                          f"codedeploy_application and codedeploy_group in "
                          f"[environments.{environment}]")
    blue_green = None
    if strategy == "rolling":
        if deployment_config:
            raise UsageError(f"--deployment-config is for blue/green deploys; service "
                             f"{settings.service} deploys with rolling updates")
        _no_rollout_in_progress(service, environment)
        # the verdict reads the targets' health after the update: a role or a target group
        # that does not allow it must stop the deploy now, before anything is written
        for balancer in service.get("loadBalancers") or []:
            if balancer.get("targetGroupArn"):
                ctx.elbv2.target_health(str(balancer["targetGroupArn"]))
    else:  # the group, the config, no deployment in progress: checked before any write
        blue_green = plan_blue_green(ctx.codedeploy, settings, TASK_DEFINITION_PLACEHOLDER,
                                     deployment_config)
    running = str(service.get("taskDefinition", ""))
    diff = definition_diff(running, ctx.ecs.task_definition(running),
                           checked.render.definition, str(checked.render.template)) \
        if running else "(the service runs no task definition)"
    desired = settings.desired_count if settings.desired_count and \
        int(service.get("desiredCount", 0)) == 0 else None
    # a failed check (an image not in ECR, say) is shown with the others, not met again here
    version = _version(checked.render, ctx) if not checked.failed else checked.render.version
    return DeployPlan(environment, settings, strategy, checked, service, running, diff,
                      version, desired, tuple(notes), blue_green)


def _no_rollout_in_progress(service: dict[str, Any], environment: str) -> None:
    """Another rolling deployment still in progress would be replaced by ours half-way; ECS
    allows it, but the result is no one's plan."""
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY" and \
                deployment.get("rolloutState") == "IN_PROGRESS":
            raise ConflictError(
                f"deployment {deployment.get('id')} of {service.get('serviceName')} is still "
                f"in progress; wait for it (shipyard status {environment}) or roll it back "
                f"(shipyard rollback {environment}) first")


def _version(rendered: RenderResult, ctx: Context) -> str:
    """The version deployed: the one the image was chosen by, else the image's own label."""
    if rendered.version:
        return rendered.version
    reference = parse_image_reference(rendered.image, registry=rendered.target.registry,
                                      repository=rendered.target.repository)
    if reference.registry != rendered.target.registry or not reference.digest:
        return ""
    return image_version(ctx, rendered.target, reference.repository, reference.digest)
