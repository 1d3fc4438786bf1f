"""`shipyard render ENV`: the environment's task definition, rendered and checked.

The image defaults to this commit's version in the registry, pinned by digest: a task
definition must name exactly one image, and a tag can move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.adapters.text_files import read_user_text
from shipyard.config import Config
from shipyard.domain.names import ImageReference, parse_image_reference
from shipyard.domain.tagplan import version_tag
from shipyard.domain.taskdef import TemplateContext, model_problems, render_template
from shipyard.errors import ConfigError, NotFoundError, UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.target import Target, repository_of, resolve_target
from shipyard.usecases.version import VersionOptions, compute_version

MISSING_PREFIX = "<missing "


@dataclass(frozen=True)
class RenderResult:
    """A rendered task definition and where it came from."""

    environment: str
    template: Path
    image: str
    definition: dict[str, Any]
    target: Target
    version: str = ""  # the version the image was chosen by ("" for an --image given)

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "template": str(self.template),
                "image": self.image, "definition": self.definition}


def render_environment(name: str, image: str | None, config: Config, ctx: Context,
                       *, check_model: bool = True, missing: list[str] | None = None
                       ) -> RenderResult:
    """Render ENV's task definition; with `check_model`, refuse what ECS's model refuses.

    With a `missing` list, a secret or SSM parameter the template looks up and does not find
    is added to it and rendered as `<missing ...>` instead of failing (verify lists them).
    """
    settings = config.environment(name)
    template = config.path(settings.task_definition)
    if not template.is_file():
        what = ("is a folder, not a file" if template.is_dir()
                else "is not a regular file" if template.exists() else "does not exist")
        raise ConfigError(f"task-definition template {template} {what}; fix "
                          f"environments.{name}.task_definition")
    if image is not None:  # its syntax is checked before any AWS call: a typo is named first
        parse_image_reference(image, registry="", repository=repository_of(config, ctx.env))
    target = resolve_target(config, ctx)
    pinned, version = resolve_image(image, target, config, ctx)
    context = TemplateContext(
        variables={"image": pinned, "environment": name, "service": settings.service,
                   "cluster": settings.cluster, "account_id": target.account_id,
                   "region": target.region, "version": version},
        values=settings.values, environ=ctx.env,
        secret_arn=_recorded(ctx.secrets.secret_arn, "secret", missing),
        parameter=_recorded(ctx.parameters.value, "SSM parameter", missing),
        fix_hint=f"define it in [environments.{name}.values] or fix the name")
    definition = render_template(template.name, template_files(template.parent), context)
    if check_model:
        problems = model_problems(definition)
        if problems:
            more = f" (and {len(problems) - 1} more: shipyard verify {name} lists them)" \
                if len(problems) > 1 else ""
            raise ConfigError(f"{template}: not a valid task definition for ECS: "
                              f"{problems[0]}{more}")
    return RenderResult(name, template, pinned, definition, target, version)


def _recorded(lookup: Callable[[str], str | None], kind: str, missing: list[str] | None
              ) -> Callable[[str], str | None]:
    if missing is None:
        return lookup

    def recorded(name: str) -> str | None:
        found = lookup(name)
        if found is None:
            missing.append(f"{kind} {name}")
            return f"{MISSING_PREFIX}{kind} {name}>"
        return found

    return recorded


def template_files(folder: Path) -> Callable[[str], tuple[str, str] | None]:
    """The template loader: a template and its includes are files in one folder."""
    def load(name: str) -> tuple[str, str] | None:
        path = folder / name
        if not path.is_file():
            return None
        # ECS takes a task definition of up to 64 KiB; a template far larger is not one.
        return read_user_text(path, limit=1_000_000, error=ConfigError,
                              fix="save the template as UTF-8 text"), str(path)

    return load


def resolve_image(image: str | None, target: Target, config: Config,
                  ctx: Context) -> tuple[str, str]:
    """The image as `registry/repo@sha256:...`, and its version when known ("" otherwise).

    `image` may be a full reference (`REGISTRY/REPO:TAG`, `REGISTRY/REPO@sha256:...`) or a
    short one in the service's registry (`REPO:TAG`, `:TAG`, `@sha256:...`, `REPO@sha256:...`);
    None means this commit's version. Tags are resolved to digests in ECR: a task definition
    must name exactly one image, and a tag can move.
    """
    if image is None:
        decided = compute_version(VersionOptions(), config, ctx.git, ctx.actions)
        reference = ImageReference(target.registry, target.repository,
                                   tag=version_tag(decided.decision.version))
        fix = "push it first (shipyard push) or pass --image REF"
        version = str(decided.decision.version)
    else:
        reference = parse_image_reference(image, registry=target.registry,
                                          repository=target.repository)
        fix = "push it first or fix --image"
        version = ""
    if reference.digest:
        return reference.pinned, version
    if reference.registry != target.registry:
        raise UsageError(f"--image {image} is not pinned by digest, and Shipyard resolves tags "
                         f"only in {target.registry}; pin it (REPO@sha256:...) or use a tag "
                         "there")
    try:
        digest = ctx.ecr.resolve(reference.repository, reference.tag)
    except NotFoundError as exc:
        raise NotFoundError(f"image {reference} is not in ECR; {fix}") from exc
    return f"{reference.registry}/{reference.repository}@{digest}", version
