"""`shipyard build`: the service's image built into an OCI image layout, pushed nowhere.

What a pull request's build job runs: the version, labels and build args `push` would use for
this commit, so the image is the one a push would build, and then nothing else. No registry
write, no ECR repository created, no git tag. AWS is asked only when a build arg needs the
registry or the account (`${registry}`, `${account_id}`: a private base image in ECR), and
then only for the account and a login the builder pulls the base with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.adapters.builders import RegistryLogin
from shipyard.adapters.oci_layout import OciLayout
from shipyard.config import Config
from shipyard.domain.build_args import expand
from shipyard.domain.platforms import parse_platforms
from shipyard.errors import UsageError
from shipyard.usecases.build import plan_build, run_build
from shipyard.usecases.context import Context
from shipyard.usecases.tags import TagsOptions, TagsResult, plan_image_tags
from shipyard.usecases.target import region_of, resolve_target

# What a build arg may take from the push target that only AWS knows (the region is local).
TARGET_KEYS = ("registry", "account_id")


@dataclass(frozen=True)
class BuildImageOptions:
    manual: str | None = None
    bump: str | None = None
    multi_arch: bool = False
    platforms: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuiltImage:
    """The layout a build wrote, and what it is."""

    tags: TagsResult
    platforms: tuple[str, ...]
    layout: Path
    digest: str

    @property
    def version(self) -> str:
        return str(self.tags.version.decision.version)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "platforms": list(self.platforms),
                "layout": str(self.layout), "digest": self.digest,
                "tags": list(self.tags.plan.tags), "labels": dict(self.tags.plan.labels),
                "pushed": False}  # not the build args: one may come from a secret variable


def build_image(options: BuildImageOptions, config: Config, ctx: Context) -> BuiltImage:
    """Plan (version, labels, build args), then build into the configured output folder."""
    platforms = options.platforms or (config.build.multi_arch_platforms if options.multi_arch
                                      else config.build.platforms)
    parse_platforms(platforms)  # a typo is a usage error before anything happens
    plan = plan_image_tags(TagsOptions(options.manual, options.bump, False), config, ctx.git,
                           ctx.actions)
    login: RegistryLogin | None = None
    account = region = ""
    if needs_push_target(config, ctx.env):
        target = resolve_target(config, ctx)
        login = ctx.ecr.login(target.account_id).for_host(target.registry)
        account, region = target.account_id, target.region
    build = plan_build(config, plan, platforms, ctx.env, login, account_id=account,
                       region=region)
    if ctx.builder is None:
        raise UsageError("no image builder is available (buildah or docker buildx); install "
                         "buildah")
    version = str(plan.version.decision.version)
    built = run_build(build, ctx.builder, version)
    layout = OciLayout.open(built.layout)
    layout.verify()  # what the builder wrote is whole: every blob's size and sha256
    return BuiltImage(plan, tuple(built.platforms), built.layout, layout.digest)


def needs_push_target(config: Config, env: Mapping[str, str]) -> bool:
    """Whether a configured build arg, expanded in this environment, uses the registry or the
    account (a marker stands in for each, and is looked for)."""
    markers = {key: f"\0{key}\0" for key in TARGET_KEYS} | {"region": region_of(config, env)}
    return any("\0" in expand(name, value, env, markers)
               for name, value in config.build.args.items())
