"""Before a push: name the base image's layer blobs in the built image, so they are mounted.

buildah recompresses every layer when it writes the OCI layout, so the image's lower layers
have other digests than the base image's blobs, though their content (diff_ids) is the same;
no registry can share them. When a build arg names the base image in the registry pushed to
(GamePulse's `BASE_IMAGE`), `reuse_base_blobs` reads that image's manifest and config for
each platform (reads only) and, where the base's layers are the image's first layers, writes
new manifests into the layout naming the base's blobs (`oci_layout.reuse_base_layers`). The
push then mounts those blobs from the base's repository instead of uploading buildah's copies;
the layout does not hold them, so a registry that will not mount them stops the push with an
error that says so, before any upload. Same base and same build give the same digest.

When the base cannot be read, or does not match, the image stays as built (a warning says
why, if the base could not be read) and its layers are uploaded as before.

The rewritten layout's index.json entry names the base (`org.opencontainers.image.base.name`
and `.digest`; index.json is never pushed, so the digest does not change): a later `push
--from-oci` of it knows where its missing layers are, and `layout_mount_source` checks that
the registry holds them before anything is written.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from shipyard.adapters.oci_layout import (
    BASE_DIGEST_ANNOTATION,
    BASE_NAME_ANNOTATION,
    INDEX_MEDIA_TYPES,
    ImageManifest,
    OciLayout,
)
from shipyard.adapters.oci_layout.base_layers import (
    LayerReuse,
    config_digest,
    config_platform,
    platform_manifest,
    reuse_base_layers,
    same_platform,
)
from shipyard.adapters.oci_layout.writer import replace_manifests
from shipyard.domain.names import ImageReference, parse_image_reference
from shipyard.errors import ShipyardError, UsageError
from shipyard.usecases.target import Target

_log = logging.getLogger("shipyard.base_layers")


class BaseReader(Protocol):
    """The registry reads the base image needs (RegistryClient's)."""

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]: ...

    def get_small_blob(self, repository: str, digest: str) -> bytes: ...


class BlobLookup(Protocol):
    """Whether a repository holds a blob (RegistryClient.blob_exists)."""

    def blob_exists(self, repository: str, digest: str) -> bool: ...


@dataclass(frozen=True)
class BaseBlobs:
    """The layout to push (rewritten, or as built) and what happened to it."""

    layout: OciLayout
    reused_layers: int = 0
    warnings: tuple[str, ...] = ()


def reuse_base_blobs(layout: OciLayout, registry: BaseReader, base: ImageReference
                     ) -> BaseBlobs:
    """Rewrite `layout`'s manifests to name `base`'s layer blobs where they are its layers.

    Reads the base's manifest (an index: the child of each platform) and config through
    `registry`; writes only into the layout. Images that do not match are left as built.
    """
    images = [image for image in layout.images if image.platform]
    configs = [b"".join(layout.iter_blob(image.config)) for image in images]
    try:
        content, media_type, base_digest = registry.get_manifest(base.repository,
                                                                 base.digest or base.tag)
        with ThreadPoolExecutor(max_workers=max(1, len(images)),
                                thread_name_prefix="shipyard-base") as pool:
            decisions = list(pool.map(
                lambda image, config: _decide(image, config, registry, base, content,
                                              media_type),
                images, configs))
    except ShipyardError as exc:
        return BaseBlobs(layout, warnings=(
            f"base image {base} could not be read ({exc}); the image keeps the build's own "
            "layer blobs, which are pushed",))
    new_manifests = {}
    for image, decision in zip(images, decisions, strict=True):
        if decision.manifest is None:  # --verbose says why
            _log.debug("%s keeps the build's layer blobs: %s", image.platform, decision.reason)
        else:
            _log.debug("%s names %d layer blob(s) of %s", image.platform,
                       len(decision.reused), base)
            new_manifests[image.descriptor.digest] = decision.manifest
    if not new_manifests:
        return BaseBlobs(layout)
    # index.json names the base: where the layers the layout now lacks come from (a later
    # `push --from-oci` of it mounts them from there too)
    replace_manifests(layout, new_manifests, {BASE_NAME_ANNOTATION: str(base),
                                              BASE_DIGEST_ANNOTATION: base_digest})
    return BaseBlobs(OciLayout.open(layout.path),
                     reused_layers=sum(len(decision.reused) for decision in decisions))


def _decide(image: ImageManifest, built_config: bytes, registry: BaseReader,
            base: ImageReference, content: bytes, media_type: str) -> LayerReuse:
    """The base's manifest and config for the image's platform, and what they allow."""
    assert image.platform is not None
    if media_type in INDEX_MEDIA_TYPES:
        child = platform_manifest(content, image.platform)
        if child is None:
            return LayerReuse(None, reason=f"the base image has no {image.platform} image")
        content, _, _ = registry.get_manifest(base.repository, child.digest)
    base_config_digest = config_digest(content)
    if base_config_digest is None:
        return LayerReuse(None, reason="the base image's manifest names no config")
    base_config = registry.get_small_blob(base.repository, base_config_digest)
    platform = config_platform(base_config)
    if platform is None or not same_platform(platform, image.platform):
        return LayerReuse(None, reason=f"the base image is for {platform}")
    return reuse_base_layers(image.content, built_config, content, base_config)


def layout_mount_source(layout: OciLayout, registry: BlobLookup, target: Target) -> str | None:
    """For a layout lacking layers (a build that reused its base image's blobs, pushed again
    with --from-oci): the base's repository to mount them from, once the registry is seen to
    hold each of them there or in the target (reads only).

    Raises UsageError when neither holds one: the push could not complete, so it must not
    start.
    """
    source = _base_repository(layout.base_name or "", target)
    repositories = [target.repository, *([source] if source else [])]
    for digest in sorted(layout.external):
        if not any(registry.blob_exists(repository, digest) for repository in repositories):
            raise UsageError(
                f"OCI layout {layout.path} does not hold layer {digest}, a blob of its base "
                f"image {layout.base_name}, and {target.registry} has it in neither "
                f"{' nor '.join(repositories)}; push the base image to {target.registry} "
                "first, or build the image again")
    return source


def _base_repository(base_name: str, target: Target) -> str | None:
    """The repository of `base_name` when it is another one in the target's registry."""
    try:
        base = parse_image_reference(base_name, registry="", repository=target.repository)
    except UsageError:
        return None
    if base.registry != target.registry or base.repository == target.repository:
        return None
    return base.repository
