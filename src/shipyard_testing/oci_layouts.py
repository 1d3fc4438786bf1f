"""Small but real OCI image layouts on disk, for tests and benchmarks.

`write_oci_layout(path)` writes one linux/amd64 image; several platforms make an image index
whose images share a base layer, so a push has to deduplicate. Layers are given as sizes (a
fresh random layer for each platform) or as ready `Layer`s::

    write_oci_layout(tmp / "oci")                                    # base + 2 layers of 4 KiB
    write_oci_layout(tmp / "oci", ("linux/amd64", "linux/arm64"))    # an index of two images
    write_oci_layout(tmp / "big", layers=[40 << 20] * 8, base=None)  # a benchmark's image
    write_oci_layout(tmp / "scan", base=None,
                     layers=[tar_layer({"var/lib/dpkg/status": status})])
    write_oci_layout(tmp / "oci", base=200, layers=(300, 500), opaque=True)  # exact blob sizes

The media types are written out here from the image spec, not imported from the code under
test, so that a wrong constant there fails the tests instead of agreeing with itself.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import os
import secrets
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Layer:
    """A layer's blob as it is stored, and the digest of its uncompressed tar (its diff_id)."""

    blob: bytes
    diff_id: str


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_layer(files: Mapping[str, bytes]) -> Layer:
    """A gzipped tar of `files` (name -> content), each 0644 with one fixed mtime."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
    # Level 1: random data does not compress at any level, so a higher one only costs time
    # (seconds, for a benchmark's layers of tens of MiB).
    return Layer(gzip.compress(raw.getvalue(), compresslevel=1, mtime=0), sha256(raw.getvalue()))


def random_layer(size: int) -> Layer:
    """A gzipped tar holding one file of `size` random bytes, under a random name."""
    return tar_layer({f"data/{secrets.token_hex(4)}.bin": os.urandom(size)})


def opaque_layer(size: int) -> Layer:
    """Exactly `size` random bytes, not a tar: for code that counts, streams and checks blobs
    but never unpacks a layer. Its diff_id is its own digest, as an uncompressed layer's is."""
    data = os.urandom(size)
    return Layer(data, sha256(data))


def put_blob(layout: Path, data: bytes) -> dict:
    """Store `data` under blobs/sha256 and return its descriptor's digest and size."""
    digest = sha256(data)
    path = layout / "blobs" / "sha256" / digest.removeprefix("sha256:")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def platform_json(platform: str) -> dict:
    """"linux/arm64/v8" -> {"architecture": "arm64", "os": "linux", "variant": "v8"}."""
    os_name, architecture, *variant = platform.split("/")
    return {"architecture": architecture, "os": os_name,
            **({"variant": variant[0]} if variant else {})}


def write_oci_layout(path: Path, platforms: Sequence[str] = ("linux/amd64",), *,
                     layers: Sequence[int | Layer] = (4096, 4096),
                     base: int | Layer | None = 4096, opaque: bool = False,
                     ref_name: str | None = "latest", add: bool = False) -> Path:
    """Write an OCI layout at `path` and return it.

    Each platform's image has the `base` layer (the same blob for every platform; None for no
    base), then `layers`. A size makes a new `random_layer` (an `opaque_layer` with `opaque`)
    for each platform; a `Layer` is used as it is. With one platform, index.json names its
    image manifest, without a platform, as buildah writes it; with several, an image index
    of them. `ref_name` annotates that entry. `add` keeps the entries index.json already
    lists (blobs are never removed), so one layout can hold several images.
    """
    make = opaque_layer if opaque else random_layer

    def layer(spec: int | Layer) -> Layer:
        return spec if isinstance(spec, Layer) else make(spec)

    path.mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    shared = [] if base is None else [layer(base)]
    # Lazily, so that only one layer at a time is in memory (a benchmark's are large).
    children = [_write_image(path, platform, itertools.chain(shared, map(layer, layers)))
                for platform in platforms]
    if len(children) == 1:
        top = {key: value for key, value in children[0].items() if key != "platform"}
    else:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
        top = {"mediaType": OCI_INDEX, **put_blob(path, json.dumps(index).encode())}
    if ref_name:
        top["annotations"] = {REF_NAME: ref_name}
    index_json = path / "index.json"
    kept = json.loads(index_json.read_text())["manifests"] if add else []
    index_json.write_text(json.dumps({"schemaVersion": 2, "manifests": [*kept, top]}))
    return path


def _write_image(path: Path, platform: str, layers: Iterable[Layer]) -> dict:
    """Store one image's layers, config and manifest; the manifest's descriptor, with its
    platform."""
    descriptors, diff_ids = [], []
    for layer in layers:
        descriptors.append({"mediaType": OCI_LAYER_GZIP, **put_blob(path, layer.blob)})
        diff_ids.append(layer.diff_id)
    config = {**platform_json(platform), "created": "2026-03-04T05:06:07Z",
              "config": {"Cmd": ["/bin/true"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **put_blob(path, json.dumps(config).encode())},
                "layers": descriptors}
    return {"mediaType": OCI_MANIFEST, **put_blob(path, json.dumps(manifest).encode()),
            "platform": platform_json(platform)}
