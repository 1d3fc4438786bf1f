"""`shipyard build`: build the service's image into an OCI image layout on disk.

Reproducible: timestamps come from the commit (`SOURCE_DATE_EPOCH`), labels from the tag plan,
so the same commit and version build the same digest. `push` builds through this module.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard.adapters.builders import BuildRequest, BuildResult, RegistryLogin
from shipyard.adapters.builders.request import Builder
from shipyard.adapters.registry import is_loopback_host
from shipyard.config import Config
from shipyard.errors import UsageError
from shipyard.usecases.tags import TagsResult

# ${VAR} or ${VAR:-default}, as in the shell.
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class BuildPlan:
    """Everything a build needs, checked before anything is written."""

    request: BuildRequest

    @property
    def platforms(self) -> tuple[str, ...]:
        return self.request.platforms


def plan_build(config: Config, plan: TagsResult, platforms: tuple[str, ...],
               env: Mapping[str, str], login: RegistryLogin | None = None) -> BuildPlan:
    """Check the Dockerfile, context and build args; pick the output folder (not created yet)."""
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
        output=config.path(config.build.output), build_args=build_args(config, plan, env),
        labels=dict(plan.plan.labels), source_date_epoch=epoch, registry_auth=login,
        insecure_registries=insecure)
    return BuildPlan(request)


def run_build(build: BuildPlan, builder: Builder, version: str) -> BuildResult:
    """Build into a fresh folder under the configured output (one per run, never reused)."""
    base = build.request.output
    base.mkdir(parents=True, exist_ok=True)
    output = Path(tempfile.mkdtemp(prefix=f"{version}-", dir=base))
    request = BuildRequest(**{**build.request.__dict__, "output": output})
    return builder.build(request)


def build_args(config: Config, plan: TagsResult, env: Mapping[str, str]) -> dict[str, str]:
    """Configured build args with ${VAR} / ${VAR:-default} filled from the environment, plus
    VERSION and REVISION.

    >>> # build.args = {BASE_IMAGE = "${BASE:-debian:12}"} with BASE unset -> "debian:12"
    """
    args = {}
    for name, value in config.build.args.items():
        def fill(match: re.Match[str], arg: str = name) -> str:
            variable, default = match.group(1), match.group(2)
            if env.get(variable):
                return env[variable]
            if default is not None:
                return default
            raise UsageError(f"build arg {arg} uses ${{{variable}}}, which is not set; "
                             f"export {variable} or change build.args.{arg}")

        args[name] = _ENV_REFERENCE.sub(fill, value)
    args.setdefault("VERSION", str(plan.version.decision.version))
    if plan.version.source is not None:
        args.setdefault("REVISION", plan.version.source.sha)
    return args
