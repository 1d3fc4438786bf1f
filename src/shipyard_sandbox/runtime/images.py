"""Images pulled from the sandbox registry by digest and unpacked into a cached rootfs.

`ImageStore.resolve(repository, tag)` pins a tag to its digest, as ECS does at launch;
`ImageStore.pull(repository, digest)` reads the manifest over HTTP from the registry (basic
auth, 127.0.0.1 only), picks the host platform's image from an index as ECS's agent does (an
index with no image for the host fails with `PlatformMismatch`, naming what it has), checks
every blob's digest and every layer's diff_id, and unpacks the layers into
`<cache>/<image digest>/rootfs`. Blobs are read straight from the registry's storage folder
when the store is given it (the sandbox process is), else over HTTP. A rootfs is unpacked once
per image digest; concurrent pulls of one image wait for the first.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import platform as host
import shutil
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from shipyard_sandbox.runtime.layers import apply_layer

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_ACCEPT = ", ".join((*INDEX_TYPES, "application/vnd.oci.image.manifest.v1+json",
                             "application/vnd.docker.distribution.manifest.v2+json"))
GZIP_LAYERS = ("application/vnd.oci.image.layer.v1.tar+gzip",
               "application/vnd.docker.image.rootfs.diff.tar.gzip")
TAR_LAYERS = ("application/vnd.oci.image.layer.v1.tar",
              "application/vnd.docker.image.rootfs.diff.tar")
MAX_MANIFEST_BYTES = 4 << 20  # as distribution's own limit for manifests
MAX_CONFIG_BYTES = 8 << 20
_MACHINE_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_CHUNK = 1 << 20


class ImageError(RuntimeError):
    """The image could not be pulled or unpacked: the message says which and why."""


class PlatformMismatch(ImageError):
    """The image has no variant for the host's platform (ECS fails such a task to start)."""


def host_platform() -> str:
    """"linux/amd64" or "linux/arm64": the only platform this machine runs (no emulation)."""
    machine = host.machine().lower()
    return f"linux/{_MACHINE_ARCH.get(machine, machine)}"


@dataclass(frozen=True)
class Image:
    """An unpacked image: `digest` is the platform image's manifest digest (`index_digest`
    the index it was chosen from, if any); `config` is the image config's `config` object."""

    repository: str
    digest: str
    index_digest: str | None
    platform: str
    rootfs: Path
    config: dict[str, Any]


class ImageStore:
    """Pulls from one registry (`url` like "http://127.0.0.1:5000") into `cache_dir`."""

    def __init__(self, url: str, cache_dir: Path, *, auth: tuple[str, str] | None = None,
                 storage_dir: Path | None = None, timeout: float = 30.0) -> None:
        if not url.startswith("http://127.") and not url.startswith("http://localhost"):
            raise ValueError(f"the runtime pulls only from a loopback registry, not {url}")
        self.url = url.rstrip("/")
        self.cache_dir = cache_dir
        self.storage_dir = storage_dir
        self._http = httpx.Client(auth=auth, timeout=timeout, trust_env=False)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def resolve(self, repository: str, tag: str) -> str:
        """The digest `repository:tag` names now, as ECS pins a task's image at launch."""
        answer = self._http.get(f"{self.url}/v2/{repository}/manifests/{tag}",
                                headers={"Accept": MANIFEST_ACCEPT})
        if answer.status_code != 200:
            raise ImageError(f"registry answered {answer.status_code} for {repository}:{tag}")
        if len(answer.content) > MAX_MANIFEST_BYTES:
            raise ImageError(f"manifest {repository}:{tag} is larger than "
                             f"{MAX_MANIFEST_BYTES} bytes")
        # The digest of the bytes themselves; a header could name another manifest.
        return "sha256:" + hashlib.sha256(answer.content).hexdigest()

    def pull(self, repository: str, digest: str, *, platform: str | None = None) -> Image:
        """The image `repository@digest` for `platform` (the host's by default), unpacked."""
        wanted = platform or host_platform()
        if not digest.startswith("sha256:"):
            raise ImageError(f"{repository}: the runtime pulls by sha256 digest, not {digest!r}")
        manifest = self._manifest(repository, digest)
        index_digest = None
        if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
            index_digest = digest
            digest = select_platform(manifest, wanted, f"{repository}@{index_digest}")
            manifest = self._manifest(repository, digest)
        config = json.loads(self._small_blob(repository, manifest["config"]["digest"]))
        found = f"{config.get('os', '?')}/{config.get('architecture', '?')}"
        if found != wanted:
            raise PlatformMismatch(f"image {repository}@{digest} is for {found}; this host "
                                   f"runs {wanted} only")
        rootfs = self._unpacked(repository, digest, manifest, config)
        return Image(repository, digest, index_digest, found, rootfs, config.get("config") or {})

    # --- the rootfs cache ------------------------------------------------------------------

    def _unpacked(self, repository: str, digest: str, manifest: dict, config: dict) -> Path:
        home = self.cache_dir / digest.replace(":", "-")
        rootfs = home / "rootfs"
        with self._lock_for(digest):
            if rootfs.is_dir():
                return rootfs
            partial = home / "rootfs.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            partial.chmod(0o755)
            diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
            layers = manifest.get("layers") or []
            if len(diff_ids) != len(layers):
                raise ImageError(f"image {repository}@{digest}: {len(layers)} layers but "
                                 f"{len(diff_ids)} diff_ids in its config")
            try:
                for layer, diff_id in zip(layers, diff_ids, strict=True):
                    self._apply(repository, partial, layer, diff_id)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            (home / "config.json").write_text(json.dumps(config))
            partial.rename(rootfs)  # atomic: a rootfs that exists is complete
            return rootfs

    def _lock_for(self, digest: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(digest, threading.Lock())

    def _apply(self, repository: str, rootfs: Path, layer: dict, diff_id: str) -> None:
        media_type = layer.get("mediaType", "")
        if media_type not in GZIP_LAYERS + TAR_LAYERS:
            raise ImageError(f"layer {layer.get('digest')} of {repository} has media type "
                             f"{media_type!r}, which the sandbox cannot unpack (it reads "
                             "tar and tar+gzip layers)")
        with self._blob(repository, layer["digest"]) as stored:
            compressed = _Hashing(stored)
            plain = _Hashing(gzip.GzipFile(fileobj=compressed) if media_type in GZIP_LAYERS
                             else compressed)
            try:
                apply_layer(rootfs, plain)
                plain.drain()
                compressed.drain()
            except (OSError, EOFError, zlib.error) as error:
                raise ImageError(f"layer {layer['digest']} of {repository} is corrupt: "
                                 f"{error}") from error
        if compressed.digest() != layer["digest"]:
            raise ImageError(f"layer of {repository} has digest {compressed.digest()}, "
                             f"not {layer['digest']} as its manifest says")
        if plain.digest() != diff_id:
            raise ImageError(f"layer {layer['digest']} of {repository} unpacks to "
                             f"{plain.digest()}, not the diff_id {diff_id} of its config")

    # --- the registry ----------------------------------------------------------------------

    def _manifest(self, repository: str, digest: str) -> dict:
        answer = self._http.get(f"{self.url}/v2/{repository}/manifests/{digest}",
                                headers={"Accept": MANIFEST_ACCEPT})
        if answer.status_code != 200:
            raise ImageError(f"registry answered {answer.status_code} for the manifest "
                             f"{repository}@{digest}")
        body = answer.content
        if len(body) > MAX_MANIFEST_BYTES:
            raise ImageError(f"manifest {repository}@{digest} is larger than "
                             f"{MAX_MANIFEST_BYTES} bytes")
        _check_digest(body, digest, f"manifest {repository}@{digest}")
        return json.loads(body)

    def _small_blob(self, repository: str, digest: str) -> bytes:
        with self._blob(repository, digest) as stored:
            data = stored.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ImageError(f"config {digest} of {repository} is too large")
        _check_digest(data, digest, f"config of {repository}")
        return data

    @contextmanager
    def _blob(self, repository: str, digest: str) -> Iterator[IO[bytes]]:
        algorithm, _, hex_digest = digest.partition(":")
        if algorithm != "sha256" or len(hex_digest) != 64 or not hex_digest.isalnum():
            raise ImageError(f"{repository}: unsupported blob digest {digest!r}")
        if self.storage_dir is not None:
            stored = (self.storage_dir / "docker/registry/v2/blobs/sha256" / hex_digest[:2]
                      / hex_digest / "data")
            if stored.is_file():
                with stored.open("rb") as handle:
                    yield handle
                return
        with self._http.stream("GET", f"{self.url}/v2/{repository}/blobs/{digest}") as answer:
            if answer.status_code != 200:
                raise ImageError(f"registry answered {answer.status_code} for the blob "
                                 f"{digest} of {repository}")
            yield _HttpReader(answer.iter_bytes(_CHUNK))


def select_platform(index: dict, wanted: str, name: str) -> str:
    """The digest of the index entry for `wanted` ("os/arch"); any arm64 variant serves
    linux/arm64. Attestation entries ("unknown/unknown") are not platforms."""
    offered = []
    for entry in index.get("manifests") or []:
        spec = entry.get("platform") or {}
        found = f"{spec.get('os', '?')}/{spec.get('architecture', '?')}"
        if found == "unknown/unknown":
            continue
        if found == wanted:
            return entry["digest"]
        variant = spec.get("variant")
        offered.append(found + (f"/{variant}" if variant else ""))
    raise PlatformMismatch(
        f"image {name} has no variant for {wanted} (it has: "
        f"{', '.join(offered) or 'no platform'}); this machine cannot emulate another "
        "platform, so the task cannot start, as ECS fails a platform mismatch")


def _check_digest(data: bytes, digest: str, what: str) -> None:
    found = "sha256:" + hashlib.sha256(data).hexdigest()
    if found != digest:
        raise ImageError(f"{what} has digest {found}, not {digest}")


class _Hashing:
    """A read-only stream that hashes what passes through it."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self._hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._hash.update(data)
        return data

    def drain(self) -> None:
        """Read to the end: a tar's trailing padding also counts in its digest."""
        for _ in iter(lambda: self.read(_CHUNK), b""):
            pass

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


class _HttpReader:
    """`read(size)` over an iterator of byte chunks (an HTTP body as it arrives)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._chunk = b""
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else float("inf")
        while wanted > 0:
            if self._offset >= len(self._chunk):
                self._chunk, self._offset = next(self._chunks, b""), 0
                if not self._chunk:
                    break
            take = self._chunk[self._offset:self._offset + int(min(wanted, len(self._chunk)))]
            self._offset += len(take)
            wanted -= len(take)
            parts.append(take)
        return b"".join(parts)
