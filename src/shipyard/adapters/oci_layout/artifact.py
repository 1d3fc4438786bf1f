"""A small artifact (a signature image, an SBOM) as an OciLayout, so the registry client's
push sends it with the checks, retries and tag rules of any image."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from shipyard.adapters.oci_layout.descriptor import Descriptor, ImageManifest, sha256_digest
from shipyard.adapters.oci_layout.layout import OciLayout


def artifact_layout(folder: Path, manifest: bytes, blobs: Mapping[str, bytes]) -> OciLayout:
    """The layout of one image manifest whose config and layers are `blobs` (digest ->
    bytes), written under `folder/blobs/sha256/`. A blob the manifest names and `blobs`
    lacks is external: the registry must hold it already (a layer of the artifact as it was
    before, which the push then skips), or the push fails on it."""
    data = json.loads(manifest)
    top = Descriptor(str(data["mediaType"]), sha256_digest(manifest), len(manifest))
    external: set[str] = set()

    def described(entry: Mapping[str, object]) -> Descriptor:
        digest, size = str(entry["digest"]), int(str(entry["size"]))
        if digest not in blobs:
            external.add(digest)
            return Descriptor(str(entry["mediaType"]), digest, size)
        content = blobs[digest]
        if sha256_digest(content) != digest or len(content) != size:
            raise ValueError(f"blob {digest} does not match its descriptor")
        path = folder / "blobs" / "sha256" / digest.split(":", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return Descriptor(str(entry["mediaType"]), digest, len(content))

    config = described(data["config"])
    layers = tuple(described(layer) for layer in data.get("layers") or [])
    image = ImageManifest(top, manifest, config, layers)
    return OciLayout(path=folder, top=top, top_content=manifest, images=(image,),
                     external=frozenset(external))
