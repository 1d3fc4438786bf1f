"""An OCI image layout folder, read for pushing: the manifests, the blobs, and their platforms.

An OCI image layout (image-spec `image-layout.md`) is what `buildah push oci:DIR`,
`docker buildx build --output type=oci,tar=false` and `skopeo copy ... oci:DIR` write::

    DIR/oci-layout            {"imageLayoutVersion": "1.0.0"}
    DIR/index.json            an image index: the entry points ("refs") into the layout
    DIR/blobs/sha256/<hex>    every manifest, config and layer, named by its sha256

The entry in `index.json` is the *top-level manifest*: either one image manifest, or an image
index whose children are per-platform image manifests (`linux/amd64`, `linux/arm64/v8`, ...).
Opening a layout reads and verifies the manifests and configs (small JSON documents) and checks
that every layer file exists with its declared size. Layers are only ever streamed, in chunks,
with their sha256 checked on the way (`OciLayout.iter_blob`), so a multi-gigabyte layer never
sits in memory.

Example::

    layout = OciLayout.open("build/oci")
    layout.digest, layout.platforms      # "sha256:…", ["linux/amd64", "linux/arm64"]
    for blob in layout.blobs():          # configs and layers, each digest once
        for chunk in layout.iter_blob(blob):
            ...
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import UsageError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_MEDIA_TYPES = INDEX_MEDIA_TYPES | IMAGE_MANIFEST_MEDIA_TYPES

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
# buildx stores provenance/SBOM as extra "unknown/unknown" manifests in the index; they are
# pushed like any child but are not a platform the image runs on.
_UNKNOWN_PLATFORM = "unknown/unknown"

# Registries refuse manifests above 4 MiB (distribution's limit, also ECR's); a bigger JSON
# file in a layout is a broken layout, not something to load.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 16 * 1024 * 1024
BLOB_CHUNK_BYTES = 1024 * 1024

_SHA256_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def sha256_digest(data: bytes) -> str:
    """The `sha256:<hex>` digest of `data`, as registries and layouts name content."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: its media type, sha256 digest and size; a platform for children."""

    media_type: str
    digest: str
    size: int
    platform: str | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


@dataclass(frozen=True)
class ImageManifest:
    """One image manifest of the layout: its bytes, its config and its layers."""

    descriptor: Descriptor
    content: bytes
    config: Descriptor
    layers: tuple[Descriptor, ...]

    @property
    def platform(self) -> str | None:
        return self.descriptor.platform

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """The config, then the layers: what must be in the registry before this manifest."""
        return (self.config, *self.layers)


@dataclass(frozen=True)
class OciLayout:
    """A verified OCI image layout: the top-level manifest and the images below it."""

    path: Path
    top: Descriptor
    top_content: bytes
    images: tuple[ImageManifest, ...]

    @classmethod
    def open(cls, path: str | Path, ref: str | None = None) -> OciLayout:
        """Read the layout at `path`; `ref` picks an entry by its `ref.name` annotation.

        Raises UsageError when the folder is not an OCI layout, is incomplete, or holds
        several images and no `ref` says which one.
        """
        return _LayoutReader(Path(path)).read(ref)

    @property
    def digest(self) -> str:
        """The digest of the top-level manifest: what the image is called once pushed."""
        return self.top.digest

    @property
    def media_type(self) -> str:
        return self.top.media_type

    @property
    def is_index(self) -> bool:
        """True when the top-level manifest is an image index of per-platform children."""
        return self.top.is_index

    @property
    def children(self) -> tuple[ImageManifest, ...]:
        """The child manifests of an index (pushed by digest before the index); else empty."""
        return self.images if self.is_index else ()

    @property
    def platforms(self) -> list[str]:
        """Platforms the image runs on, e.g. `["linux/amd64", "linux/arm64/v8"]`."""
        found = [image.platform for image in self.images if image.platform]
        return [platform for platform in found if platform != _UNKNOWN_PLATFORM]

    def blobs(self) -> list[Descriptor]:
        """Every config and layer of every image, each digest once, in push order."""
        unique: dict[str, Descriptor] = {}
        for image in self.images:
            for blob in image.blobs:
                unique.setdefault(blob.digest, blob)
        return list(unique.values())

    def descriptors(self) -> list[Descriptor]:
        """Everything the registry must hold: blobs, then child manifests, then the top."""
        return [*self.blobs(), *(child.descriptor for child in self.children), self.top]

    def blob_path(self, digest: str) -> Path:
        """The file of a blob inside the layout (`blobs/sha256/<hex>`)."""
        algorithm, _, hex_digest = _checked_digest(digest, self.path).partition(":")
        return self.path / "blobs" / algorithm / hex_digest

    def iter_blob(self, blob: Descriptor, chunk_size: int = BLOB_CHUNK_BYTES) -> Iterator[bytes]:
        """Stream a blob's bytes in chunks, checking its size and sha256 as they pass.

        A mismatch raises UsageError before the last byte is handed over (a blob longer than
        declared) or when the stream ends (a shorter blob, or different content), so a
        consumer sending the chunks on never finishes a request with corrupt content.
        """
        path = self.blob_path(blob.digest)
        hasher = hashlib.sha256()
        seen = 0
        try:
            with path.open("rb") as file:
                while chunk := file.read(chunk_size):
                    seen += len(chunk)
                    if seen > blob.size:
                        raise self._corrupt(blob, f"larger than its declared {blob.size} bytes")
                    hasher.update(chunk)
                    yield chunk
        except FileNotFoundError as exc:
            raise _missing_blob(self.path, blob.digest) from exc
        if seen != blob.size:
            raise self._corrupt(blob, f"{seen} bytes instead of {blob.size}")
        if "sha256:" + hasher.hexdigest() != blob.digest:
            raise self._corrupt(blob, "content does not match its sha256 digest")

    def verify_blob(self, blob: Descriptor) -> None:
        """Read a blob once, in chunks, and raise UsageError unless size and digest match."""
        for _chunk in self.iter_blob(blob):
            pass

    def _corrupt(self, blob: Descriptor, why: str) -> UsageError:
        return UsageError(
            f"blob {blob.digest} in OCI layout {self.path} is corrupt ({why}); "
            "write the layout again")


class _LayoutReader:
    """Reads and checks a layout folder once; `read` builds the OciLayout."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, ref: str | None) -> OciLayout:
        self._check_marker()
        index = self._json_file(self.path / "index.json", "index.json")
        top, top_content = self._top_level(index, ref)
        if top.is_index:
            images = self._children(top, top_content)
        else:
            images = (self._image(top, top_content),)
        return OciLayout(path=self.path, top=top, top_content=top_content, images=images)

    def _check_marker(self) -> None:
        marker = self.path / "oci-layout"
        if not self.path.is_dir() or not marker.is_file():
            raise UsageError(
                f"{self.path} is not an OCI image layout (no oci-layout file); pass a folder "
                "written by a build or `skopeo copy ... oci:DIR`")
        data = self._json_file(marker, "oci-layout")
        if not isinstance(data.get("imageLayoutVersion"), str):
            raise UsageError(
                f"{marker} has no imageLayoutVersion; write the layout again with a build "
                "or `skopeo copy ... oci:DIR`")

    def _top_level(self, index: Mapping[str, Any], ref: str | None) -> tuple[Descriptor, bytes]:
        entries = index.get("manifests")
        if not isinstance(entries, list) or not entries:
            raise UsageError(f"OCI layout {self.path} holds no image (index.json lists no "
                             "manifests); build or copy an image into it first")
        if ref is not None:
            entries = [e for e in entries if _ref_name(e) == ref]
            if not entries:
                raise UsageError(f"OCI layout {self.path} has no image named {ref!r} "
                                 f"(it has {self._ref_names(index)}); pass one of those")
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
        for blob in (config, *layers):
            self._check_blob_file(blob)
        if descriptor.platform is None:
            # A single-image layout (or a child without a platform field): the config says
            # what the image runs on.
            platform = _platform(self._json_blob(config, MAX_CONFIG_BYTES))
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
        _checked_digest(digest, self.path)
        media_type = data.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            raise UsageError(f"descriptor {digest} in {where} of OCI layout {self.path} has "
                             "no mediaType; write the layout again")
        platform = data.get("platform")
        return Descriptor(media_type, digest, size,
                          _platform(platform) if isinstance(platform, Mapping) else None)

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
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise _missing_blob(self.path, descriptor.digest) from exc
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
        names = [_ref_name(entry) for entry in index.get("manifests") or []]
        named = [name for name in names if name]
        return ", ".join(repr(name) for name in named) if named else "no ref names"


def _parse_json(content: bytes, where: str, layout: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where} in OCI layout {layout} is not valid JSON; write the layout "
                         "again") from exc
    if not isinstance(data, Mapping):
        raise UsageError(f"{where} in OCI layout {layout} is not a JSON object; write the "
                         "layout again")
    return data


def _checked_digest(digest: str, layout: Path) -> str:
    # Only sha256 is in use by registries (ECR included); the pattern also keeps a hostile
    # digest such as "sha256:../../x" from naming a path outside the layout.
    if not _SHA256_DIGEST.match(digest):
        raise UsageError(f"OCI layout {layout} names a blob by {digest!r}, not a sha256 digest; "
                         "write the layout again with sha256 digests")
    return digest


def _missing_blob(layout: Path, digest: str) -> UsageError:
    return UsageError(f"OCI layout {layout} is incomplete: blob {digest} is missing from "
                      "blobs/sha256; write the layout again")


def _platform(data: Mapping[str, Any]) -> str | None:
    os_name, architecture = data.get("os"), data.get("architecture")
    if not isinstance(os_name, str) or not isinstance(architecture, str):
        return None
    variant = data.get("variant")
    parts = [os_name, architecture, *([variant] if isinstance(variant, str) and variant else [])]
    return "/".join(parts)


def _ref_name(entry: Any) -> str | None:
    if not isinstance(entry, Mapping):
        return None
    annotations = entry.get("annotations")
    if not isinstance(annotations, Mapping):
        return None
    name = annotations.get(REF_NAME_ANNOTATION)
    return name if isinstance(name, str) else None


def _descriptor_json(descriptor: Descriptor) -> dict[str, Any]:
    data: dict[str, Any] = {"mediaType": descriptor.media_type, "digest": descriptor.digest,
                            "size": descriptor.size}
    if descriptor.platform:
        os_name, architecture, *variant = descriptor.platform.split("/")
        data["platform"] = {"architecture": architecture, "os": os_name,
                            **({"variant": variant[0]} if variant else {})}
    return data
