"""Read and check a layout folder: the oci-layout marker, index.json, every manifest and
config (small JSON, read whole and verified) and that every layer file has its declared size.

When the index.json entry names the image's base (`org.opencontainers.image.base.name`, which
shipyard writes once a built image's manifests name its base image's blobs), a layer may be
absent: the image-layout spec lets a layout miss referenced blobs that an external store
provides, here the base's registry. Such layers are listed in `absent`; configs and manifests
must always be there."""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.adapters.oci_layout.descriptor import (
    BASE_NAME_ANNOTATION,
    IMAGE_MANIFEST_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    REF_NAME_ANNOTATION,
    Descriptor,
    ImageManifest,
    checked_digest,
    missing_blob,
    sha256_digest,
)
from shipyard.errors import UsageError


class LayoutReader:
    """Reads and checks a layout folder once; `read` gives what an OciLayout is built from:
    the top-level descriptor, its bytes, and the images below it; `base_name` the base image
    its entry names, and `absent` the layers the folder does not hold (only with a base)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base_name: str | None = None
        self.absent: set[str] = set()

    def read(self, ref: str | None) -> tuple[Descriptor, bytes, tuple[ImageManifest, ...]]:
        self._check_marker()
        index = self._json_file(self.path / "index.json", "index.json")
        top, top_content = self._top_level(index, ref)
        if top.is_index:
            images = self._children(top, top_content)
        else:
            images = (self._image(top, top_content),)
        return top, top_content, images

    def _check_marker(self) -> None:
        marker = self.path / "oci-layout"
        if not self.path.is_dir() or not marker.is_file():
            raise UsageError(
                f"{self.path} is not an OCI image layout (no oci-layout file); pass a folder "
                "written by a build or `skopeo copy ... oci:DIR`")
        data = self._json_file(marker, "oci-layout")
        version = data.get("imageLayoutVersion")
        if not isinstance(version, str):
            raise UsageError(
                f"{marker} has no imageLayoutVersion; write the layout again with a build "
                "or `skopeo copy ... oci:DIR`")
        if version.split(".")[0] != "1":  # a later major version may lay blobs out otherwise
            raise UsageError(
                f"{marker}: imageLayoutVersion {version[:20]!r} is not one Shipyard reads "
                "(1.x); write the layout again with a build or `skopeo copy ... oci:DIR`")

    def _top_level(self, index: Mapping[str, Any], ref: str | None) -> tuple[Descriptor, bytes]:
        entries = index.get("manifests")
        if not isinstance(entries, list) or not entries:
            raise UsageError(f"OCI layout {self.path} holds no image (index.json lists no "
                             "manifests); build or copy an image into it first")
        if ref is not None:
            entries = [e for e in entries if _annotation(e, REF_NAME_ANNOTATION) == ref]
            if not entries:
                raise UsageError(f"OCI layout {self.path} has no image named {ref!r} "
                                 f"(it has {self._ref_names(index)}); pass one of those")
        self.base_name = next((name for entry in entries
                               if (name := _annotation(entry, BASE_NAME_ANNOTATION))), None)
        descriptors = [self._descriptor(entry, "index.json") for entry in entries]
        if len(descriptors) == 1:
            top = descriptors[0]
            return top, self._manifest_blob(top)
        return self._synthesized_index(index, descriptors)

    def _synthesized_index(self, index: Mapping[str, Any],
                           descriptors: list[Descriptor]) -> tuple[Descriptor, bytes]:
        # Older buildx and some tools put the per-platform manifests straight into index.json
        # instead of one image index blob. When every entry is an image for a distinct
        # platform, that list *is* the multi-arch image: push it as a fresh image index.
        platforms = [d.platform for d in descriptors]
        if (any(d.media_type not in IMAGE_MANIFEST_MEDIA_TYPES for d in descriptors)
                or None in platforms or len(set(platforms)) != len(platforms)):
            raise UsageError(f"OCI layout {self.path} holds {len(descriptors)} images "
                             f"({self._ref_names(index)}); choose one by its ref name")
        children = [_descriptor_json(d) for d in descriptors]
        content = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                              "manifests": children}, separators=(",", ":")).encode()
        return Descriptor(OCI_INDEX, sha256_digest(content), len(content)), content

    def _children(self, top: Descriptor, content: bytes) -> tuple[ImageManifest, ...]:
        data = _parse_json(content, f"manifest {top.digest}", self.path)
        entries = data.get("manifests")
        if not isinstance(entries, list) or not entries:
            raise UsageError(f"image index {top.digest} in OCI layout {self.path} lists no "
                             "manifests; write the layout again")
        images = []
        for entry in entries:
            child = self._descriptor(entry, f"index {top.digest}")
            if child.is_index:
                raise UsageError(f"image index {top.digest} in OCI layout {self.path} nests "
                                 "another index, which shipyard does not push; flatten it "
                                 "with `skopeo copy --all`")
            images.append(self._image(child, self._manifest_blob(child)))
        return tuple(images)

    def _image(self, descriptor: Descriptor, content: bytes) -> ImageManifest:
        where = f"manifest {descriptor.digest}"
        data = _parse_json(content, where, self.path)
        config = self._descriptor(data.get("config"), where)
        layers_json = data.get("layers")
        if not isinstance(layers_json, list):
            raise UsageError(f"{where} in OCI layout {self.path} has no layers list; "
                             "write the layout again")
        layers = tuple(self._descriptor(layer, where) for layer in layers_json)
        self._check_blob_file(config)
        for layer in layers:
            if self.base_name is not None and not self._blob_file(layer.digest).exists():
                self.absent.add(layer.digest)
            else:
                self._check_blob_file(layer)
        if descriptor.platform is None:
            # A single-image layout (or a child without a platform field): the config says
            # what the image runs on.
            platform = platform_of(self._json_blob(config, MAX_CONFIG_BYTES))
            descriptor = Descriptor(descriptor.media_type, descriptor.digest, descriptor.size,
                                    platform)
        return ImageManifest(descriptor, content, config, layers)

    def _descriptor(self, data: Any, where: str) -> Descriptor:
        if not isinstance(data, Mapping):
            raise UsageError(f"{where} in OCI layout {self.path} has a malformed descriptor; "
                             "write the layout again")
        digest, size = data.get("digest"), data.get("size")
        if not isinstance(digest, str) or not isinstance(size, int) or size < 0:
            raise UsageError(f"{where} in OCI layout {self.path} has a descriptor without a "
                             "valid digest and size; write the layout again")
        checked_digest(digest, self.path)
        media_type = data.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            raise UsageError(f"descriptor {digest} in {where} of OCI layout {self.path} has "
                             "no mediaType; write the layout again")
        platform = data.get("platform")
        return Descriptor(media_type, digest, size,
                          platform_of(platform) if isinstance(platform, Mapping) else None)

    def _manifest_blob(self, descriptor: Descriptor) -> bytes:
        if descriptor.media_type not in MANIFEST_MEDIA_TYPES:
            raise UsageError(f"{descriptor.digest} in OCI layout {self.path} is a "
                             f"{descriptor.media_type}, not an image manifest or index; "
                             "pass a layout of a container image")
        return self._small_blob(descriptor, MAX_MANIFEST_BYTES)

    def _json_blob(self, descriptor: Descriptor, limit: int) -> Mapping[str, Any]:
        content = self._small_blob(descriptor, limit)
        return _parse_json(content, f"blob {descriptor.digest}", self.path)

    def _small_blob(self, descriptor: Descriptor, limit: int) -> bytes:
        """A JSON blob (manifest or config), read whole because it is small, then verified."""
        if descriptor.size > limit:
            raise UsageError(f"blob {descriptor.digest} in OCI layout {self.path} declares "
                             f"{descriptor.size} bytes, above the {limit}-byte limit for "
                             "manifests and configs; write the layout again")
        self._check_blob_file(descriptor)
        content = self._blob_file(descriptor.digest).read_bytes()
        if sha256_digest(content) != descriptor.digest:
            raise UsageError(f"blob {descriptor.digest} in OCI layout {self.path} is corrupt "
                             "(content does not match its sha256 digest); write the layout "
                             "again")
        return content

    def _check_blob_file(self, descriptor: Descriptor) -> None:
        path = self._blob_file(descriptor.digest)
        try:
            status = path.stat()
        except FileNotFoundError as exc:
            raise missing_blob(self.path, descriptor.digest) from exc
        # Only a regular file inside the layout is read: opening a FIFO blocks forever, a
        # device never ends, and a symlink could push any file of the machine.
        if not stat.S_ISREG(status.st_mode) or (
                path.is_symlink() and not path.resolve().is_relative_to(self.path.resolve())):
            raise UsageError(f"blob {descriptor.digest} in OCI layout {self.path} is not a "
                             "regular file inside the layout (a FIFO, device, folder or "
                             "symlink out of it); write the layout again")
        size = status.st_size
        if size != descriptor.size:
            raise UsageError(f"blob {descriptor.digest} in OCI layout {self.path} is corrupt "
                             f"({size} bytes instead of {descriptor.size}); write the layout "
                             "again")

    def _blob_file(self, digest: str) -> Path:
        algorithm, _, hex_digest = digest.partition(":")
        return self.path / "blobs" / algorithm / hex_digest

    def _json_file(self, path: Path, name: str) -> Mapping[str, Any]:
        try:
            content = path.read_bytes()
        except FileNotFoundError as exc:
            raise UsageError(f"{self.path} is not a complete OCI image layout (no {name}); "
                             "write the layout again") from exc
        return _parse_json(content, name, self.path)

    def _ref_names(self, index: Mapping[str, Any]) -> str:
        names = [_annotation(entry, REF_NAME_ANNOTATION)
                 for entry in index.get("manifests") or []]
        named = [name for name in names if name]
        return ", ".join(repr(name) for name in named) if named else "no ref names"


def _parse_json(content: bytes, where: str, layout: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where} in OCI layout {layout} is not valid JSON; write the layout "
                         "again") from exc
    except RecursionError as exc:  # `[[[[...` many thousand deep: json recurses per level
        raise UsageError(f"{where} in OCI layout {layout} is nested too deeply to be an OCI "
                         "document; write the layout again") from exc
    if not isinstance(data, Mapping):
        raise UsageError(f"{where} in OCI layout {layout} is not a JSON object; write the "
                         "layout again")
    return data


def platform_of(data: Mapping[str, Any]) -> str | None:
    """`os/architecture[/variant]` of a descriptor's platform or an image config; None when
    it names none."""
    os_name, architecture = data.get("os"), data.get("architecture")
    if not isinstance(os_name, str) or not isinstance(architecture, str):
        return None
    variant = data.get("variant")
    parts = [os_name, architecture, *([variant] if isinstance(variant, str) and variant else [])]
    return "/".join(parts)


def _annotation(entry: Any, key: str) -> str | None:
    if not isinstance(entry, Mapping):
        return None
    annotations = entry.get("annotations")
    if not isinstance(annotations, Mapping):
        return None
    value = annotations.get(key)
    return value if isinstance(value, str) and value else None


def _descriptor_json(descriptor: Descriptor) -> dict[str, Any]:
    data: dict[str, Any] = {"mediaType": descriptor.media_type, "digest": descriptor.digest,
                            "size": descriptor.size}
    if descriptor.platform:
        os_name, architecture, *variant = descriptor.platform.split("/")
        data["platform"] = {"architecture": architecture, "os": os_name,
                            **({"variant": variant[0]} if variant else {})}
    return data
