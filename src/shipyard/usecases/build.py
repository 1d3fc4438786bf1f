"""Builds for `shipyard push`: the service's image into an OCI image layout on disk.

Reproducible: timestamps come from the commit (`SOURCE_DATE_EPOCH`), labels from the tag plan,
so the same commit and version build the same digest. `push` builds through this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shipyard.adapters.builders import BuildRequest, BuildResult, RegistryLogin
from shipyard.adapters.builders.outputs import (
    claim_build_folder,
    discard_build_folder,
    prune_build_folders,
)
from shipyard.adapters.builders.request import Builder
from shipyard.adapters.registry import is_loopback_host
from shipyard.config import Config
from shipyard.domain.build_args import expand
from shipyard.domain.names import ECR_REGISTRY_HOST
from shipyard.errors import UsageError
from shipyard.usecases.tags import TagsResult
from shipyard.usecases.target import region_of


@dataclass(frozen=True)
class BuildPlan:
    """Everything a build needs, checked before anything is written."""

    request: BuildRequest

    @property
    def platforms(self) -> tuple[str, ...]:
        return self.request.platforms


def plan_build(config: Config, plan: TagsResult, platforms: tuple[str, ...],
               env: Mapping[str, str], login: RegistryLogin | None = None, *,
               account_id: str = "", region: str = "") -> BuildPlan:
    """Check the Dockerfile, context and build args; pick the output folder (not created yet).

    `login` is for the push target's registry: its host is `${registry}` in build args, and
    `account_id`/`region` are `${account_id}`/`${region}` (read from an ECR host, or
    AWS_ACCOUNT_ID and the region Shipyard uses, when not given).
    """
    context = config.path(config.build.context)
    dockerfile = config.path(config.build.dockerfile)
    if not context.is_dir():
        raise UsageError(f"build context {context} is not a folder; fix build.context")
    if not dockerfile.is_file():
        raise UsageError(f"Dockerfile {dockerfile} does not exist; fix build.dockerfile")
    source = plan.version.source
    epoch = int(source.commit_time.timestamp()) if source else None
    insecure = (login.host,) if login and is_loopback_host(login.host) else ()
    request = BuildRequest(
        context=context, dockerfile=dockerfile, platforms=platforms,
        output=config.path(config.build.output),
        build_args=build_args(config, plan, env, push_target(config, env, login, account_id,
                                                             region)),
        labels=dict(plan.plan.labels), source_date_epoch=epoch, registry_auth=login,
        insecure_registries=insecure)
    return BuildPlan(request)


def run_build(build: BuildPlan, builder: Builder, version: str) -> BuildResult:
    """Build into a fresh folder under the configured output (one per run, so a layout being
    pushed is never replaced). A failed build leaves nothing behind; a build that succeeded
    removes the folders of earlier builds that have ended: nothing reuses them (base images
    are cached in the builder's storage)."""
    base = build.request.output
    folder = claim_build_folder(base, version)
    request = BuildRequest(**{**build.request.__dict__, "output": folder})
    try:
        result = builder.build(request)
    except BaseException:
        discard_build_folder(folder)
        raise
    prune_build_folders(base, keep=folder)
    return result


def push_target(config: Config, env: Mapping[str, str], login: RegistryLogin | None,
                account_id: str = "", region: str = "") -> dict[str, str]:
    """`${registry}`, `${account_id}` and `${region}` for build args ("" when unknown)."""
    host = login.host if login else ""
    ecr = ECR_REGISTRY_HOST.match(host)
    return {"registry": host,
            "account_id": account_id or (ecr["account"] if ecr else "")
            or env.get("AWS_ACCOUNT_ID", ""),
            "region": region or (ecr["region"] if ecr else "") or region_of(config, env)}


def build_args(config: Config, plan: TagsResult, env: Mapping[str, str],
               target: Mapping[str, str] | None = None) -> dict[str, str]:
    """Configured build args filled from the environment and the push target (`target`, as
    `push_target` gives it; see `shipyard.domain.build_args` for the forms), plus VERSION and
    REVISION.

    >>> # build.args = {BASE_IMAGE = "${BASE:-${registry}/base:12}"}, BASE unset, pushing to
    >>> # 127.0.0.1:5000 -> "127.0.0.1:5000/base:12"
    """
    args = {name: expand(name, value, env, target or {})
            for name, value in config.build.args.items()}
    args.setdefault("VERSION", str(plan.version.decision.version))
    if plan.version.source is not None:
        args.setdefault("REVISION", plan.version.source.sha)
    return args
