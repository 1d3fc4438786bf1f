"""OciLayout: a verified OCI image layout, its images and platforms, and its blobs streamed
with their size and sha256 checked."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.adapters.oci_layout.descriptor import (
    BLOB_CHUNK_BYTES,
    Descriptor,
    ImageManifest,
    checked_digest,
    missing_blob,
)
from shipyard.adapters.oci_layout.reader import LayoutReader
from shipyard.errors import UsageError

# buildx stores provenance/SBOM as extra "unknown/unknown" manifests in the index; they are
# pushed like any child but are not a platform the image runs on.
_UNKNOWN_PLATFORM = "unknown/unknown"


@dataclass(frozen=True)
class OciLayout:
    """A verified OCI image layout: the top-level manifest and the images below it.

    `external` lists layers the manifests name but the folder does not hold, which only a
    layout naming its base image (`base_name`) may lack: the registry must hold them already,
    or mount them from the base's repository (a build that reused its base image's blobs).
    """

    path: Path
    top: Descriptor
    top_content: bytes
    images: tuple[ImageManifest, ...]
    external: frozenset[str] = field(default=frozenset())
    base_name: str | None = None

    @classmethod
    def open(cls, path: str | Path, ref: str | None = None) -> OciLayout:
        """Read the layout at `path`; `ref` picks an entry by its `ref.name` annotation.

        Raises UsageError when the folder is not an OCI layout, is incomplete, or holds
        several images and no `ref` says which one.
        """
        layout_path = Path(path)
        reader = LayoutReader(layout_path)
        top, top_content, images = reader.read(ref)
        return OciLayout(path=layout_path, top=top, top_content=top_content, images=images,
                         external=frozenset(reader.absent), base_name=reader.base_name)

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
        algorithm, _, hex_digest = checked_digest(digest, self.path).partition(":")
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
            if blob.digest in self.external:
                raise UsageError(f"layer {blob.digest} is not in OCI layout {self.path}: it is "
                                 f"a blob of its base image {self.base_name}; mount it from "
                                 "the base's repository") from exc
            raise missing_blob(self.path, blob.digest) from exc
        if seen != blob.size:
            raise self._corrupt(blob, f"{seen} bytes instead of {blob.size}")
        if "sha256:" + hasher.hexdigest() != blob.digest:
            raise self._corrupt(blob, "content does not match its sha256 digest")

    def verify(self) -> None:
        """Read every blob the layout holds and raise UsageError unless each one's size and
        sha256 match: a push runs this before its first write, so a corrupt layer stops it
        before a repository is created or a byte uploaded. Layers of the base image that the
        layout does not hold (`external`) are the registry's to provide."""
        held = [blob for blob in self.blobs() if blob.digest not in self.external]
        if len(held) <= 1:
            for blob in held:
                self.verify_blob(blob)
            return
        # sha256 releases the GIL on large chunks: a few threads hash layers side by side.
        with ThreadPoolExecutor(max_workers=min(4, len(held)),
                                thread_name_prefix="shipyard-verify") as pool:
            for _done in pool.map(self.verify_blob, held):
                pass

    def verify_blob(self, blob: Descriptor) -> None:
        """Read a blob once, in chunks, and raise UsageError unless size and digest match."""
        for _chunk in self.iter_blob(blob):
            pass

    def _corrupt(self, blob: Descriptor, why: str) -> UsageError:
        return UsageError(
            f"blob {blob.digest} in OCI layout {self.path} is corrupt ({why}); "
            "write the layout again")
