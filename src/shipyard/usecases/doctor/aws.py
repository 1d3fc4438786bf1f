"""Doctor's AWS checks (the brief's "ECR login failure"): whose credentials, the endpoint
and region, the clock, the repository and its settings, and the registry login."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from shipyard.config import Config
from shipyard.domain.diagnosis import Group
from shipyard.errors import AuthError, ShipyardError
from shipyard.usecases.context import Context
from shipyard.usecases.target import Target

# SigV4 refuses requests signed more than 5 minutes away from AWS's clock; warn well before.
_SKEW_WARN, _SKEW_FAIL = 60.0, 300.0


def check_aws(group: Group, config: Config | None, make_context: Callable[..., Context]
              ) -> tuple[Context | None, str]:
    """The AWS checks; the context and the caller's ARN, once the credentials are known to
    work (else None and "")."""
    names = ("credentials", "clock", "repository", "registry login", "base image")
    if config is None:
        for name in names:
            group.skip(name, "the configuration did not load")
        return None, ""
    try:
        ctx = make_context(config)
    except ShipyardError as exc:  # a region that is not one, say
        group.failed("credentials", exc.message, "fix AWS_REGION or service.region")
        for name in names[1:]:
            group.skip(name, "the AWS settings are not usable")
        return None, ""
    try:
        account, arn, date = ctx.sts.identity()
    except ShipyardError as exc:
        fix = ('set credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or a '
               'role; for the sandbox: eval "$(shipyard sandbox env)")'
               if isinstance(exc, AuthError) else
               "check AWS_ENDPOINT_URL (unset it for AWS itself) and the network")
        group.failed("credentials", exc.message, fix)
        for name in names[1:]:
            group.skip(name, "no AWS identity")
        return None, ""
    endpoint = ctx.env.get("AWS_ENDPOINT_URL", "")
    group.ok("credentials", f"{arn or account} in {ctx.region}"
                            + (f" through {endpoint}" if endpoint else ""))
    _clock(group, date)
    _repository(group, config, ctx)
    return ctx, arn


def _clock(group: Group, date: str) -> None:
    try:
        server = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        group.skip("clock", "the answer had no Date header to compare with")
        return
    skew = (datetime.now(UTC) - server).total_seconds()
    detail = f"this machine is {abs(skew):.0f}s {'ahead of' if skew > 0 else 'behind'} AWS"
    fix = "sync the clock (timedatectl set-ntp true, or chronyd/ntpd)"
    if abs(skew) >= _SKEW_FAIL:
        group.fail("clock", f"{detail}: signed requests are refused past 5 minutes", fix)
    elif abs(skew) >= _SKEW_WARN:
        group.warn("clock", detail, fix)
    else:
        group.ok("clock", detail)


def _repository(group: Group, config: Config, ctx: Context) -> None:
    from shipyard.usecases.target import resolve_target

    try:
        target = resolve_target(config, ctx)
        found = ctx.ecr.describe_repository(target.repository)
    except ShipyardError as exc:
        group.failed("repository", exc.message, "check ECR_REPOSITORY or service.repository, "
                   "and ecr:DescribeRepositories for these credentials")
        group.skip("registry login", "the repository could not be read")
        group.skip("base image", "the repository could not be read")
        return
    if found is None:
        group.fail("repository", f"{target.repository} does not exist in {target.region}",
                   "shipyard push creates it with [repository]'s settings (or create it with "
                   "the service's infrastructure template)")
    else:
        wanted = config.repository
        differences = [
            what for what, ours, theirs in (
                ("scan on push", wanted.scan_on_push, found.scan_on_push),
                ("tag mutability", wanted.tag_mutability, found.tag_mutability),
                ("mutability exclusions", tuple(wanted.mutability_exclusions),
                 tuple(found.mutability_exclusions)),
                ("encryption", wanted.encryption, found.encryption)) if ours != theirs]
        summary = (f"{target.repository}: scan on push {'on' if found.scan_on_push else 'off'},"
                   f" tags {found.tag_mutability} (except "
                   f"{', '.join(found.mutability_exclusions) or 'none'}), {found.encryption}")
        if differences:
            group.warn("repository", f"{summary}; differs from [repository] in "
                       f"{', '.join(differences)}", "bring the repository to [repository]'s "
                       "settings (aws ecr put-image-tag-mutability / "
                       "put-image-scanning-configuration), or change [repository]")
        else:
            group.ok("repository", summary)
    _login(group, ctx, target, config)


def _login(group: Group, ctx: Context, target: Target, config: Config) -> None:
    login = None
    try:
        login = ctx.ecr.login(target.account_id).for_host(target.registry)
        with ctx.registry(target.registry, auth=login) as registry:
            registry.check_auth()
    except ShipyardError as exc:
        group.failed("registry login", exc.message, "check ecr:GetAuthorizationToken for these "
                     "credentials, SHIPYARD_REGISTRY, and that the registry answers; by hand: "
                     "shipyard login")
        group.skip("base image", "the registry login failed")
        return
    group.ok("registry login", f"the ECR token opens {target.registry} (GET /v2/)")
    with ctx.registry(target.registry, auth=login) as registry:
        _base_image(group, config, ctx, target, registry)


def _base_image(group: Group, config: Config, ctx: Context, target: Target,
                registry: Any) -> None:
    """The image the build is FROM, when a build arg names one in the target registry (as
    GamePulse's BASE_IMAGE does): it must be there for a build to start."""
    from shipyard.domain.build_args import expand
    from shipyard.usecases.push import base_image

    names = {"registry": target.registry, "account_id": target.account_id,
             "region": target.region}
    try:
        args = {name: expand(name, value, ctx.env, names)
                for name, value in config.build.args.items()}
        base = base_image(args, target)
    except ShipyardError as exc:
        group.failed("base image", exc.message, "fix build.args or the variables they read")
        return
    if base is None:
        group.skip("base image", "no build arg names an image in the target registry")
        return
    try:
        found = registry.manifest_digest(base.repository, base.digest or base.tag or "latest")
    except ShipyardError as exc:
        group.failed("base image", exc.message, "let these credentials read the base image's "
                     "repository (ecr:BatchGetImage)")
        return
    if found is None:
        group.fail("base image", f"{base} is not in the registry", "push it first (for "
                   "GamePulse: dev/demo, or scripts/load-base-image.sh), or point the build "
                   "arg at one that is")
    else:
        group.ok("base image", f"{base} is there ({found[:19]}…)")
