"""What a layout's content is called: media types, size limits, sha256 digests, descriptors
and image manifests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from shipyard.domain.names import DIGEST
from shipyard.errors import UsageError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_MEDIA_TYPES = INDEX_MEDIA_TYPES | IMAGE_MANIFEST_MEDIA_TYPES

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
# The image's base (image-spec annotations.md). On an index.json entry it also says where the
# layer blobs the layout lacks come from (see `reader`).
BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"
BASE_DIGEST_ANNOTATION = "org.opencontainers.image.base.digest"

# Registries refuse manifests above 4 MiB (distribution's limit, also ECR's); a bigger JSON
# file in a layout is a broken layout, not something to load.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 16 * 1024 * 1024
BLOB_CHUNK_BYTES = 1024 * 1024



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


def checked_digest(digest: str, layout: Path) -> str:
    # Only sha256 is in use by registries (ECR included); the pattern also keeps a hostile
    # digest such as "sha256:../../x" from naming a path outside the layout.
    if not DIGEST.match(digest):
        raise UsageError(f"OCI layout {layout} names a blob by {digest!r}, not a sha256 digest; "
                         "write the layout again with sha256 digests")
    return digest


def missing_blob(layout: Path, digest: str) -> UsageError:
    return UsageError(f"OCI layout {layout} is incomplete: blob {digest} is missing from "
                      "blobs/sha256; write the layout again")
