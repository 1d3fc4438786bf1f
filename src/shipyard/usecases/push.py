"""`shipyard push`: the brief's push-to-ecr — version, build, push with tags, scan.

Order matters: every read and check runs first (version, tag plan, account, repository,
login, what the tags point at now, the images floating tags name, the git tag); `--dry-run`
stops there. Then the writes: create the repository, push blobs and manifests, set tags
(version tags before moving tags, so a version collision stops before `latest` moves), the
git tag `v<version>` with `--git-tag`, and scan. A commit whose image exists is promoted:
its `sha-` digest gets the new version's tags, nothing is built (domain/release.py).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.adapters.ecr import RepositorySettings
from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import BlobNotMounted, PushReport, RegistryClient
from shipyard.config import Config
from shipyard.domain.names import ImageReference, parse_image_reference
from shipyard.domain.platforms import parse_platforms
from shipyard.domain.release import (
    GitTagDecision,
    GitTagTaken,
    collision_message,
    commit_tag,
    decide_git_tag,
    floating_tag_hold,
    moving_holders,
    promotion_source,
)
from shipyard.errors import ConflictError, UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.tags import TagsOptions, TagsResult, plan_image_tags
from shipyard.usecases.target import Target, repository_of, resolve_target

if TYPE_CHECKING:
    from shipyard.adapters.signing_keys import SigningKey
    from shipyard.usecases.sbom import SbomResult
    from shipyard.usecases.scan import ScanResult
    from shipyard.usecases.sign import SignResult


_log = logging.getLogger("shipyard.push")

@dataclass(frozen=True)
class PushOptions:
    """Flags of `shipyard push`."""

    manual: str | None = None
    bump: str | None = None
    multi_arch: bool = False
    platforms: tuple[str, ...] = ()
    latest: bool = False
    scan: bool = False
    dry_run: bool = False
    from_oci: Path | None = None
    git_tag: bool = False
    sign_key: SigningKey | None = None  # sign the pushed image (and its platforms) with it
    sbom: bool = False  # attach a CycloneDX SBOM to each platform image (signed with sign_key)


@dataclass
class PushResult:
    """The plan, and what pushing it did."""

    tags: TagsResult
    target: Target
    repository: RepositorySettings
    repository_created: bool
    platforms: tuple[str, ...]
    dry_run: bool
    tags_to_set: tuple[str, ...] = ()
    tags_unchanged: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    digest: str | None = None
    report: PushReport | None = None
    scan: ScanResult | None = None
    promoted_from: str | None = None  # the commit tag whose image got this version's tags
    held: dict[str, str] = field(default_factory=dict)  # floating tag -> why it stays
    git_tag: GitTagDecision | None = None
    git_tag_created: bool = False
    signed: SignResult | None = None
    sbom: SbomResult | None = None

    @property
    def image(self) -> str | None:
        return f"{self.target.image_base}@{self.digest}" if self.digest else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": str(self.tags.version.decision.version),
            "registry": self.target.registry,
            "repository": self.target.repository,
            "digest": self.digest,
            "tags": list(self.tags.plan.tags),
            "platforms": list(self.platforms),
            "pushed_blobs": self.report.pushed_blobs if self.report else 0,
            "skipped_blobs": self.report.skipped_blobs if self.report else 0,
            "mounted_blobs": self.report.mounted_blobs if self.report else 0,
            "dry_run": self.dry_run,
            # what this run did to each tag: written, or already on this image
            "tags_set": list(self.tags_to_set),
            "tags_unchanged": list(self.tags_unchanged),
            "tags_held": sorted(self.held),
            "promoted": self.promoted_from is not None,
            "promoted_from": self.promoted_from,
            "git_tag": self.git_tag.name if self.git_tag
            and self.git_tag.action != "prerelease" else None,
            "git_tag_created": self.git_tag_created,
        }
        if self.dry_run:
            data["repository_exists"] = not self.repository_created
            data["repository_settings"] = {
                "scan_on_push": self.repository.scan_on_push,
                "tag_mutability": self.repository.tag_mutability,
                "mutability_exclusions": list(self.repository.mutability_exclusions),
                "encryption": self.repository.encryption,
            }
        if self.scan:
            data["scan"] = self.scan.summary()
        if self.signed:
            data["signed"] = self.signed.summary()
        if self.sbom:
            data["sbom"] = self.sbom.summary()
        return data


def push(options: PushOptions, config: Config, ctx: Context) -> PushResult:
    """Plan, check, then (unless dry-run) build, push, tag and scan."""
    if options.from_oci and (options.multi_arch or options.platforms):
        raise UsageError("--from-oci pushes the platforms the layout has; drop --multi-arch "
                         "and --platform")
    # Opening reads and checks index.json and the manifests; the blobs' sizes and digests are
    # checked below, before the first write, unless the push is to write nothing at all.
    layout = OciLayout.open(options.from_oci) if options.from_oci else None
    platforms = tuple(layout.platforms) if layout else _platforms(options, config)
    parse_platforms(platforms)  # a typo is a usage error before anything happens
    repository_name = repository_of(config, ctx.env)
    scan_options = None
    if options.scan:  # imported only when used: most pushes neither build nor scan
        from shipyard.usecases.scan import scan_options_from_config

        scan_options = scan_options_from_config(config)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="shipyard-aws") as aws:
        # AWS calls that wait on the network run beside the git commands of the tag plan,
        # and beside each other: the repository does not depend on the account.
        existing_call = aws.submit(lambda: ctx.ecr.describe_repository(repository_name))
        target_call = aws.submit(resolve_target, config, ctx, repository_name)
        plan = plan_image_tags(TagsOptions(options.manual, options.bump, options.latest),
                               config, ctx.git, ctx.actions)
        target = target_call.result()
        ecr = ctx.ecr
        login = ecr.login(target.account_id).for_host(target.registry)
        existing = existing_call.result()
    repository = existing or new_repository(config, target.repository)
    if layout is None:
        from shipyard.usecases.build import plan_build, run_build
    build = None if layout else plan_build(config, plan, platforms, ctx.env, login,
                                           account_id=target.account_id, region=target.region)
    result = PushResult(plan, target, repository, existing is None, platforms, options.dry_run)
    result.warnings.extend([*plan.version.warnings, *plan.plan.warnings])
    if options.sign_key is not None:
        options.sign_key.public_key()  # a KMS key of the wrong kind stops here, before writes
    if options.git_tag:
        result.git_tag = _git_tag_decision(plan, config, ctx)
    with ctx.registry(target.registry, auth=login, progress=ctx.progress) as registry:
        if existing is None:  # nothing to read yet, but a write must not be the first contact
            registry.check_auth()
        current = {} if existing is None else _current_tags(registry, target, plan)
        _hold_floating_tags(result, current, ctx)
        source = plan.version.source
        assert source is not None  # the tag plan needs a checkout
        sha_tag = commit_tag(source.sha[:7])
        promoted = promotion_source(current.get(sha_tag), layout.digest if layout else None)
        if promoted is not None:
            from shipyard.adapters.oci_layout.remote import registry_image

            # A folder never created: the registry holds every blob of the image, and the
            # push reads none (one gone meanwhile fails as a blob missing from it).
            nowhere = Path(tempfile.gettempdir()) / "shipyard-promotion-holds-no-blobs"
            layout, build = registry_image(registry, target.repository, promoted, nowhere), None
            result.promoted_from = sha_tag
            _missing_platforms(result, layout.platforms)
        if build is not None and ctx.builder is None and not options.dry_run:
            raise UsageError("no image builder is available (buildah or docker buildx); "
                             "install buildah, or pass --from-oci DIR with a built OCI image "
                             "layout")
        layout_source = None
        if layout is not None and layout.external:  # a build that reused its base's blobs
            from shipyard.usecases.base_layers import layout_mount_source

            layout_source = layout_mount_source(layout, registry, target)
        if layout is not None:
            _decide_tags(result, layout.digest, current)
            if promoted is None and (result.tags_to_set or not result.tags_unchanged):
                # every blob's size and sha256: a corrupt layer stops the push here, before
                # the repository or any blob is written (a re-push of an image every tag
                # already names sends nothing, and need not read its layers to find that out)
                layout.verify()
        if options.dry_run:
            if layout is None:
                _preview_tags(result, current)
            return result
        if build is not None:
            # Local work first: a failed build leaves ECR untouched.
            assert ctx.builder is not None
            version = str(plan.version.decision.version)
            layout = built = OciLayout.open(run_build(build, ctx.builder, version).layout)
            base = base_image(build.request.build_args, target)
            if base is not None:  # the base's blobs in the manifests: they are mounted
                from shipyard.usecases.base_layers import reuse_base_blobs

                as_built = (layout.path / "index.json").read_bytes()
                reuse = reuse_base_blobs(layout, registry, base)
                layout = reuse.layout
                result.warnings.extend(reuse.warnings)
            _decide_tags(result, layout.digest, current)
            # What the builder wrote, checked before the first write; the rewrite above adds
            # manifests (checked on open) and removes no blob, so this covers both layouts.
            built.verify()
        if existing is None:
            result.repository = ecr.create_repository(repository)
        assert layout is not None
        if result.tags_to_set or not result.tags_unchanged:
            mount_from = (mount_source(build.request.build_args, target) if build
                          else layout_source)
            try:
                result.report = _push_layout(registry, layout, result, mount_from)
            except BlobNotMounted as refused:
                if build is None or layout is built:
                    raise
                # ECR mounts only with the registry's BLOB_MOUNTING setting enabled (it is
                # off by default): push the build's own layer blobs instead. Nothing was
                # uploaded or written before the refusal.
                result.warnings.append(
                    f"{target.registry} did not mount the base image's layers into "
                    f"{target.repository}, so the build's own copies are uploaded (on ECR, "
                    "`aws ecr put-account-setting --name BLOB_MOUNTING --value ENABLED` lets "
                    "them be mounted)")
                _log.debug("mount refused: %s", refused)
                from shipyard.adapters.oci_layout.writer import restore_index

                restore_index(built.path, as_built)  # the layout on disk is what was pushed
                layout = built
                _decide_tags(result, layout.digest, current)
                result.report = _push_layout(registry, layout, result, mount_from)
        else:
            # Every tag already points at this image, so the registry holds it whole (it
            # refuses a manifest whose blobs are missing): nothing to send or ask again.
            result.report = _nothing_pushed(layout, target.repository, result.tags_unchanged)
        result.digest = layout.digest
    if options.sbom:
        from shipyard.usecases.sbom import attach_sboms

        result.sbom = attach_sboms(ctx, target, layout.digest, key=options.sign_key)
    if options.sign_key is not None:
        from shipyard.usecases.sign import sign_image

        result.signed = sign_image(ctx, target, layout.digest, options.sign_key)
    # Every image write succeeded: the release is recorded in git, so the next commit
    # computes the next version (pushing the tag is the workflow's step).
    if result.git_tag is not None and result.git_tag.action == "create":
        ctx.git.create_annotated_tag(result.git_tag.name,
                                     f"Release {plan.version.decision.version}")
        result.git_tag_created = True
    if scan_options is not None:
        from shipyard.usecases.scan import scan_image

        result.scan = scan_image(replace(scan_options, repository=target.repository,
                                         image=layout.digest), ctx)
    return result


def _push_layout(registry: RegistryClient, layout: OciLayout, result: PushResult,
                 mount_from: str | None) -> PushReport:
    plan = result.tags.plan
    unique = [tag for tag in result.tags_to_set if not plan.is_moving(tag)]
    return registry.push_layout(layout, result.target.repository, result.tags_to_set,
                                unique_tags=unique, mount_from=mount_from,
                                fresh=result.repository_created and result.repository.created,
                                guarded_tags=[tag for tag in unique
                                              if result.repository.tag_is_immutable(tag)])


def _nothing_pushed(layout: OciLayout, repository: str, tags: tuple[str, ...]) -> PushReport:
    blobs = list(layout.blobs())
    return PushReport(repository=repository, digest=layout.digest, media_type=layout.media_type,
                      skipped_blobs=len(blobs), tags_skipped=list(tags),
                      platforms=layout.platforms)


def new_repository(config: Config, name: str) -> RepositorySettings:
    defaults = config.repository
    return RepositorySettings(name=name, scan_on_push=defaults.scan_on_push,
                              tag_mutability=defaults.tag_mutability,
                              mutability_exclusions=defaults.mutability_exclusions,
                              encryption=defaults.encryption, kms_key=defaults.kms_key)


def mount_source(build_args: Mapping[str, str], target: Target) -> str | None:
    """The repository of the same registry that the build's base image came from, if any.

    Its layers are the image's lower layers: mounting them from there sends no bytes. A
    build arg naming an image in the target registry (GamePulse's BASE_IMAGE) is the base.

    >>> t = Target("r", "123456789012", "127.0.0.1:5000", "gamepulse")
    >>> mount_source({"BASE_IMAGE": "127.0.0.1:5000/gamepulse-base:bookworm"}, t)
    'gamepulse-base'
    >>> mount_source({"BASE_IMAGE": "debian:12", "VERSION": "1.0.0"}, t) is None
    True
    """
    base = base_image(build_args, target)
    return base.repository if base else None


def base_image(build_args: Mapping[str, str], target: Target) -> ImageReference | None:
    """The image in the target registry that a build arg names, other than the target's own
    repository: the base the Dockerfile builds FROM (GamePulse's BASE_IMAGE)."""
    for value in build_args.values():
        host, slash, _ = value.partition("/")
        if not slash or host != target.registry:
            continue
        try:
            reference = parse_image_reference(value, registry=target.registry,
                                              repository=target.repository)
        except UsageError:
            continue
        if reference.repository != target.repository:
            return reference
    return None


def _platforms(options: PushOptions, config: Config) -> tuple[str, ...]:
    if options.platforms:
        return options.platforms
    return config.build.multi_arch_platforms if options.multi_arch else config.build.platforms


def _current_tags(registry: RegistryClient, target: Target, plan: TagsResult
                  ) -> dict[str, str | None]:
    """What each planned tag points at now (reads only)."""
    return registry.manifest_digests(target.repository, plan.plan.tags)


def _preview_tags(result: PushResult, current: Mapping[str, str | None]) -> None:
    """A dry run that would build cannot know the digest yet: say which tags are taken."""
    plan = result.tags.plan
    to_set = []
    for tag in plan.tags:
        now = current.get(tag)
        if tag in result.held:
            continue
        if now is not None and plan.is_moving(tag) and result.repository.tag_is_immutable(tag):
            result.warnings.append(f"moving tag {tag} is immutable in "
                                   f"{result.target.repository} and would stay on {now[:19]}…")
            continue
        if now is not None and not plan.is_moving(tag):
            result.warnings.append(
                f"tag {tag} already points at {now[:19]}…: the push fails (exit 6) unless "
                "this build reproduces that image exactly")
        to_set.append(tag)
    result.tags_to_set = tuple(to_set)


def _missing_platforms(result: PushResult, found: list[str]) -> None:
    """A promoted image is what it was built as: a platform asked for now and missing from
    it is said, not built (a new commit builds every platform again)."""
    from shipyard.adapters.oci_layout.base_layers import same_platform

    missing = [p for p in result.platforms if not any(same_platform(p, f) for f in found)]
    if missing:
        result.warnings.append(
            f"the promoted image {result.promoted_from} has {', '.join(found) or 'no platform'}"
            f", not {', '.join(missing)}: it is promoted as it was built; build every platform "
            "where the commit is first pushed (develop), or make a new commit")
        result.platforms = tuple(found)


def _git_tag_decision(plan: TagsResult, config: Config, ctx: Context) -> GitTagDecision:
    """`--git-tag`'s check, before any write: `v<version>` on another commit is a conflict."""
    version = plan.version
    assert version.source is not None
    name = version.tag_name
    tagged = ctx.git.resolve(name) if ctx.git.tag_exists(name) else None
    try:
        return decide_git_tag(name, version.decision.version, version.source.sha, tagged)
    except GitTagTaken as taken:
        raise ConflictError(
            f"git tag {name} already names commit {taken.commit[:7]}, not this one "
            f"({version.source.sha[:7]}); {version.decision.version} is released from other "
            "code: make a new commit, or pass --version with a version not yet released"
        ) from None


def _hold_floating_tags(result: PushResult, current: Mapping[str, str | None],
                        ctx: Context) -> None:
    """Floating tags that name an image of a higher release stay there (one ECR read)."""
    plan = result.tags.plan
    holders = moving_holders(plan.moving, current)
    if not holders:
        return
    tags_of = ctx.ecr.image_tags(result.target.repository, holders.values())
    version = result.tags.version.decision.version
    for tag, digest in holders.items():
        why = floating_tag_hold(tag, version, tags_of.get(digest, ()))
        if why is not None:
            result.held[tag] = why
            result.warnings.append(why)


def _decide_tags(result: PushResult, digest: str, current: Mapping[str, str | None]) -> None:
    """Which tags to write. A version tag pointing elsewhere is a collision, never overwritten;
    a moving tag an immutable repository holds, or one held by a higher release, is skipped
    with a warning."""
    plan = result.tags.plan
    to_set, unchanged = [], []
    for tag in plan.tags:
        now = current.get(tag)
        if now == digest:
            unchanged.append(tag)
            continue
        if tag in result.held:
            continue
        if now is not None and not plan.is_moving(tag):
            version = result.tags.version
            raise ConflictError(collision_message(result.target.repository, tag, now,
                                                  version.decision.version, version.tag_name))
        if now is not None and result.repository.tag_is_immutable(tag):
            result.warnings.append(
                f"moving tag {tag} is immutable in {result.target.repository} and stays on "
                f"{now[:19]}…; add '{tag}' to the repository's tag-mutability exclusions")
            continue
        to_set.append(tag)
    # Unique tags first: if one collides in a race, the moving tags have not moved yet.
    to_set.sort(key=plan.is_moving)
    result.tags_to_set, result.tags_unchanged = tuple(to_set), tuple(unchanged)
    result.digest = digest
