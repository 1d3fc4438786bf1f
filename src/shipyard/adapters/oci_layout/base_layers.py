"""A built image's lower layers named by its base image's blobs, as BuildKit keeps them.

buildah writes every layer of an image anew when it exports an OCI layout, base layers
included, and its gzip output differs from the base's: the same uncompressed tar (the same
diff_id in the config) gets another compressed digest and size. The registry then cannot
share the base's blobs, so every push uploads the base again. When the base image's layers
are the image's first layers (their diff_ids equal, position by position), the manifest may
name the base's compressed blobs instead: the config stays as it is (diff_ids describe the
uncompressed content, which has not changed), and the image unpacks to the same file system.

Pure functions, no I/O: the caller reads the manifests and configs (from the layout and the
registry) and writes the result. Example::

    reuse = reuse_base_layers(built_manifest, built_config, base_manifest, base_config)
    reuse.manifest      # the new manifest's bytes, or None: keep the image as built
    reuse.reused        # the base's layer descriptors the new manifest names
    reuse.reason        # why the image is kept as built
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.adapters.oci_layout.descriptor import IMAGE_MANIFEST_MEDIA_TYPES, Descriptor
from shipyard.adapters.oci_layout.reader import platform_of
from shipyard.domain.names import DIGEST

# Layer media types by their encoding. A base blob replaces a built one only when both are
# encoded alike: a zstd base under a gzip image would change which clients can pull it.
# OCI and Docker name the same encodings differently; the manifest keeps its own name.
_LAYER_ENCODING = {
    "application/vnd.oci.image.layer.v1.tar": "tar",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar": "tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
}

# Platforms spelled two ways: containerd reads arm64 as arm64/v8 and arm as arm/v7.
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


@dataclass(frozen=True)
class LayerReuse:
    """What `reuse_base_layers` decided for one image."""

    manifest: bytes | None  # the manifest naming the base's blobs; None: keep it as built
    reused: tuple[Descriptor, ...] = ()  # the base's layers the new manifest names
    reason: str = ""  # why the image is kept as built


class _Unusable(ValueError):
    """A manifest or config that does not say what its layers are."""


@dataclass(frozen=True)
class _Image:
    manifest: Mapping[str, Any]
    layers: list[Mapping[str, Any]]
    diff_ids: list[str]


def reuse_base_layers(built_manifest: bytes, built_config: bytes,
                      base_manifest: bytes, base_config: bytes) -> LayerReuse:
    """The built image's manifest with its first layers named by the base's blobs.

    Every condition must hold, or the image is kept as built (with the reason): both
    manifests list as many layers as their configs list diff_ids; the base has at least one
    layer and no more than the image; the base's diff_ids are the image's first ones, in
    order; each pair of layers is encoded alike, and neither is a foreign layer (`urls`) nor,
    on the image's side, annotated (annotations may describe the compressed bytes). The new
    manifest is the built one with those layers' digest and size replaced, written compactly:
    the same inputs always give the same bytes, so a reproducible build stays reproducible.
    """
    try:
        built = _image(built_manifest, built_config, "the image")
        base = _image(base_manifest, base_config, "the base image")
    except _Unusable as exc:
        return LayerReuse(None, reason=str(exc))
    count = len(base.layers)
    if count == 0 or count > len(built.layers):
        return LayerReuse(None, reason=f"the base image has {count} layers and the image "
                                       f"{len(built.layers)}: it is not built on this base")
    pairs = zip(built.diff_ids[:count], base.diff_ids, strict=True)
    for number, (ours, theirs) in enumerate(pairs, start=1):
        if ours != theirs:
            return LayerReuse(None, reason=f"layer {number} is not the base image's (diff_id "
                                           f"{ours[:19]}… where the base has {theirs[:19]}…)")
    layers = list(built.layers)
    reused = []
    for index in range(count):
        ours, theirs = built.layers[index], base.layers[index]
        refusal = _refusal(ours, theirs)
        if refusal:
            return LayerReuse(None, reason=f"layer {index + 1}: {refusal}")
        layers[index] = {**ours, "digest": theirs["digest"], "size": theirs["size"]}
        reused.append(Descriptor(str(ours["mediaType"]), theirs["digest"], theirs["size"]))
    if layers == built.layers:
        return LayerReuse(None, reason="its layers are the base image's blobs already")
    manifest = {**built.manifest, "layers": layers}
    return LayerReuse(json.dumps(manifest, separators=(",", ":")).encode(), tuple(reused))


def platform_manifest(index: bytes, platform: str) -> Descriptor | None:
    """The image manifest an image index lists for `platform` (`linux/arm64` also matches
    `linux/arm64/v8`), or None."""
    try:
        entries = json.loads(index).get("manifests")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("platform"), Mapping):
            continue
        named = platform_of(entry["platform"])
        digest, size, media_type = entry.get("digest"), entry.get("size"), entry.get("mediaType")
        if (named is not None and same_platform(named, platform)
                and media_type in IMAGE_MANIFEST_MEDIA_TYPES and isinstance(digest, str)
                and DIGEST.match(digest) and isinstance(size, int)):
            return Descriptor(str(media_type), digest, size, named)
    return None


def config_digest(manifest: bytes) -> str | None:
    """The digest of the config an image manifest names, or None."""
    try:
        config = json.loads(manifest).get("config")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    digest = config.get("digest") if isinstance(config, Mapping) else None
    return digest if isinstance(digest, str) and DIGEST.match(digest) else None


def config_platform(config: bytes) -> str | None:
    """The platform an image config names (`linux/amd64`), or None."""
    try:
        data = json.loads(config)
    except (ValueError, UnicodeDecodeError):
        return None
    return platform_of(data) if isinstance(data, Mapping) else None


def same_platform(first: str, second: str) -> bool:
    """`linux/arm64` and `linux/arm64/v8` are one platform; otherwise the names must match."""
    return _normal(first) == _normal(second)


def _normal(platform: str) -> tuple[str, ...]:
    os_name, architecture, *variant = platform.split("/")
    return os_name, architecture, *(variant or [_DEFAULT_VARIANT.get(architecture, "")])


def _image(manifest: bytes, config: bytes, name: str) -> _Image:
    manifest_data, config_data = _json(manifest, name), _json(config, name)
    layers = manifest_data.get("layers")
    rootfs = config_data.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, Mapping) else None
    if not isinstance(layers, list) or not all(_is_layer(layer) for layer in layers):
        raise _Unusable(f"{name}'s manifest has no valid layers list")
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise _Unusable(f"{name}'s config has no rootfs.diff_ids")
    if len(layers) != len(diff_ids):
        raise _Unusable(f"{name}'s manifest lists {len(layers)} layers and its config "
                        f"{len(diff_ids)} diff_ids")
    return _Image(manifest_data, layers, diff_ids)


def _json(content: bytes, name: str) -> Mapping[str, Any]:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Unusable(f"{name}'s manifest or config is not JSON") from exc
    if not isinstance(data, Mapping):
        raise _Unusable(f"{name}'s manifest or config is not a JSON object")
    return data


def _is_layer(layer: Any) -> bool:
    return (isinstance(layer, Mapping) and isinstance(layer.get("mediaType"), str)
            and isinstance(layer.get("digest"), str) and bool(DIGEST.match(layer["digest"]))
            and isinstance(layer.get("size"), int) and layer["size"] >= 0)


def _refusal(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> str:
    """Why the base's layer may not stand in for ours; "" when it may."""
    encoding = _LAYER_ENCODING.get(ours["mediaType"])
    if encoding is None:
        return f"{ours['mediaType']} is not a layer type shipyard reuses"
    if _LAYER_ENCODING.get(theirs["mediaType"]) != encoding:
        return f"the base's blob is {theirs['mediaType']}, the image's {ours['mediaType']}"
    if "urls" in ours or "urls" in theirs:
        return "a foreign layer (its descriptor has urls)"
    if "annotations" in ours:
        return "the image's descriptor has annotations, which may describe its own blob"
    return ""
