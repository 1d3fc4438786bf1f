"""Where images go: region, account, registry host and repository, from env, then config.

Precedence: the brief's environment variables (`AWS_REGION`, `AWS_ACCOUNT_ID`,
`ECR_REPOSITORY`), then `shipyard.toml`, then defaults. `SHIPYARD_REGISTRY` replaces the ECR
host (the sandbox, or a registry mirror); the AWS API endpoint comes from `AWS_ENDPOINT_URL`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from shipyard.config import Config
from shipyard.domain.names import (
    ECR_REPOSITORY,
    ECR_REPOSITORY_LENGTH,
    is_loopback_host,
    registry_host_problem,
)
from shipyard.domain.resource_names import is_region
from shipyard.errors import UsageError
from shipyard.usecases.context import Context

_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Target:
    """An ECR repository in one account and region, and the registry host serving it."""

    region: str
    account_id: str
    registry: str
    repository: str

    @property
    def image_base(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.registry)


def region_of(config: Config, env: Mapping[str, str]) -> str:
    """The region: `AWS_REGION`, `AWS_DEFAULT_REGION`, then `service.region`; its shape checked."""
    for source in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if env.get(source):
            return _checked_region(env[source], source)
    return _checked_region(config.service.region, "service.region")


def _checked_region(region: str, source: str) -> str:
    # A garbage region is a usage error here, not an AWS error from the first call to it.
    if not is_region(region):
        raise UsageError(f"{source} {region!r} is not an AWS region name; use one such as "
                         "us-east-1 or ap-northeast-2")
    return region


def repository_of(config: Config, env: Mapping[str, str], repository: str | None = None
                  ) -> str:
    """The ECR repository (given, `ECR_REPOSITORY`, or `service.repository`), checked."""
    repository = repository or env.get("ECR_REPOSITORY") or config.service.repository
    if not ECR_REPOSITORY.match(repository):
        raise UsageError(f"repository name '{repository}' is not valid for ECR (lowercase "
                         "letters, digits, '.', '_', '-', '/'); fix ECR_REPOSITORY or "
                         "service.repository")
    shortest, longest = ECR_REPOSITORY_LENGTH
    if not shortest <= len(repository) <= longest:
        shown = repository if len(repository) <= 40 else f"{repository[:40]}..."
        raise UsageError(f"repository name '{shown}' is {len(repository)} characters long; ECR "
                         f"takes {shortest} to {longest}: fix ECR_REPOSITORY or "
                         "service.repository")
    return repository


def resolve_target(config: Config, ctx: Context, repository: str | None = None) -> Target:
    """Resolve the target; the account comes from STS only when `AWS_ACCOUNT_ID` is unset."""
    env = ctx.env
    repository = repository_of(config, env, repository)
    registry_override = env.get("SHIPYARD_REGISTRY", "")
    if registry_override and (problem := registry_host_problem(registry_override)):
        raise UsageError(f"SHIPYARD_REGISTRY: {problem}; set it to HOST or HOST:PORT, e.g. "
                         "127.0.0.1:5000")
    account = env.get("AWS_ACCOUNT_ID") or ctx.sts.account_id()
    if not _ACCOUNT.match(account):
        raise UsageError(f"AWS_ACCOUNT_ID '{account}' is not a 12-digit account id; fix it or "
                         "unset it to detect the account with STS")
    registry = env.get("SHIPYARD_REGISTRY") or f"{account}.dkr.ecr.{ctx.region}.amazonaws.com"
    return Target(ctx.region, account, registry, repository)
