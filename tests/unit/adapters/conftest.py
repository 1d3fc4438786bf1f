"""Small OCI image layouts on disk, for the layout reader's and the registry client's tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OCI_INDEX, OCI_MANIFEST, sha256_digest

_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_CONFIG = "application/vnd.oci.image.config.v1+json"


class LayoutBuilder:
    """Writes layouts of random layers; a base layer is shared by every platform's image.

    `build_layout(root)` is one linux/amd64 image; several platforms make an image index,
    unless `index=False` lists the images straight in index.json; `entries` replaces what
    index.json lists. `build_layout.blob(root, data)` adds one blob and returns its
    descriptor fields.
    """

    def __call__(self, root: Path, platforms: tuple[str, ...] = ("linux/amd64",), *,
                 index: bool | None = None, layer_sizes: tuple[int, ...] = (300, 500),
                 entries: list[dict] | None = None) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        base = {"mediaType": _LAYER, **self.blob(root, os.urandom(200))}
        children = [{**self._image(root, p, base, layer_sizes), "platform": _platform(p)}
                    for p in platforms]
        if entries is None:
            if index if index is not None else len(platforms) > 1:
                body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
                entries = [{"mediaType": OCI_INDEX, **self.blob(root, json.dumps(body).encode())}]
            else:
                entries = [{k: v for k, v in children[0].items() if k != "platform"}]
        (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
        return root

    @staticmethod
    def blob(root: Path, data: bytes) -> dict:
        digest = sha256_digest(data)
        path = root / "blobs" / "sha256" / digest[7:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return {"digest": digest, "size": len(data)}

    def _image(self, root: Path, platform: str, base: dict,
               layer_sizes: tuple[int, ...]) -> dict:
        layers = [base] + [{"mediaType": _LAYER, **self.blob(root, os.urandom(size))}
                           for size in layer_sizes]
        config = {"mediaType": _CONFIG,
                  **self.blob(root, json.dumps({**_platform(platform), "rootfs": {}}).encode())}
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                    "layers": layers}
        return {"mediaType": OCI_MANIFEST, **self.blob(root, json.dumps(manifest).encode())}


def _platform(text: str) -> dict:
    os_name, arch, *variant = text.split("/")
    return {"os": os_name, "architecture": arch, **({"variant": variant[0]} if variant else {})}


@pytest.fixture
def build_layout() -> LayoutBuilder:
    return LayoutBuilder()
