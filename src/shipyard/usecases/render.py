"""`shipyard render ENV`: the environment's task definition, rendered and checked.

The image defaults to this commit's version in the registry, pinned by digest: a task
definition must name exactly one image, and a tag can move.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.adapters.aws import Aws
from shipyard.adapters.ecr import Ecr
from shipyard.adapters.git import Git
from shipyard.adapters.github import ActionsContext
from shipyard.adapters.secretsmanager import SecretsManager
from shipyard.adapters.ssm import ParameterStore
from shipyard.config import Config
from shipyard.domain.tagplan import version_tag
from shipyard.domain.taskdef import TemplateContext, model_problems, render_template
from shipyard.errors import ConfigError, ShipyardError, UsageError
from shipyard.usecases.target import Target, resolve_target
from shipyard.usecases.version import VersionOptions, compute_version


@dataclass
class EnvironmentDeps:
    """The outside world the environment commands (render, verify, diff) need."""

    git: Git
    actions: ActionsContext | None
    aws: Aws
    env: Mapping[str, str]


@dataclass(frozen=True)
class RenderResult:
    """A rendered task definition and where it came from."""

    environment: str
    template: Path
    image: str
    definition: dict[str, Any]
    target: Target


def render_environment(name: str, image: str | None, config: Config, deps: EnvironmentDeps,
                       *, check_model: bool = True) -> RenderResult:
    """Render ENV's task definition; with `check_model`, refuse what ECS's model refuses."""
    settings = config.environment(name)
    template = config.path(settings.task_definition)
    if not template.is_file():
        raise ConfigError(f"task-definition template {template} does not exist; fix "
                          f"environments.{name}.task_definition")
    target = resolve_target(config, deps.env, deps.aws)
    pinned, version = resolve_image(image, target, config, deps)
    context = TemplateContext(
        variables={"image": pinned, "environment": name, "service": settings.service,
                   "cluster": settings.cluster, "account_id": target.account_id,
                   "region": target.region, "version": version},
        values=settings.values, environ=deps.env,
        secret_arn=SecretsManager(deps.aws).secret_arn,
        parameter=ParameterStore(deps.aws).value,
        fix_hint=f"define it in [environments.{name}.values] or fix the name")
    definition = render_template(template, context)
    if check_model:
        problems = model_problems(definition)
        if problems:
            more = f" (and {len(problems) - 1} more: shipyard verify {name} lists them)" \
                if len(problems) > 1 else ""
            raise ConfigError(f"{template}: not a valid task definition for ECS: "
                              f"{problems[0]}{more}")
    return RenderResult(name, template, pinned, definition, target)


def resolve_image(image: str | None, target: Target, config: Config,
                  deps: EnvironmentDeps) -> tuple[str, str]:
    """The image as `registry/repo@sha256:...` (given pinned, a tag resolved, or this
    commit's version), and its version when known ("" otherwise)."""
    if image and "@sha256:" in image:
        return image, ""
    ecr = Ecr(deps.aws)
    version = ""
    if image is None:
        decided = compute_version(VersionOptions(), config, deps.git, deps.actions)
        repository, tag = target.repository, version_tag(decided.decision.version)
        version = str(decided.decision.version)
        fix = "push it first (shipyard push) or pass --image REF"
    elif image.startswith(f"{target.registry}/") and ":" in image[len(target.registry) + 1:]:
        repository, _, tag = image[len(target.registry) + 1:].rpartition(":")
        fix = "push it first or fix --image"
    else:
        raise UsageError(f"--image {image} is not pinned by digest; pass REPO@sha256:... or a "
                         f"tag in {target.registry} (REGISTRY/REPO:TAG), which is pinned for you")
    try:
        digest = ecr.resolve(repository, tag)
    except ShipyardError as exc:
        raise UsageError(f"image {target.registry}/{repository}:{tag} is not in ECR; {fix}"
                         ) from exc
    return f"{target.registry}/{repository}@{digest}", version
