"""An upload session the push does not use is cancelled (DELETE) in the real registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import BASE_NAME_ANNOTATION, OciLayout
from shipyard.adapters.registry import BlobNotMounted, RegistryClient

pytestmark = pytest.mark.integration


def _open_sessions(storage: Path) -> list[Path]:
    # distribution keeps a session as _uploads/<id>/{data,startedat}; a cancelled one loses
    # both (its DELETE handler writes an empty hashstates folder back, a quirk of its own)
    return list(storage.glob("docker/registry/v2/repositories/**/_uploads/*/startedat"))


def test_a_mount_session_left_unused_is_cancelled(registry_server,
                                                  single_image_layout: Path) -> None:
    layer = OciLayout.open(single_image_layout).blobs()[-1]
    # a layout that names its base image and lacks one of the base's layers
    index = json.loads((single_image_layout / "index.json").read_bytes())
    index["manifests"][0]["annotations"] = {
        BASE_NAME_ANNOTATION: f"{registry_server.host}/cancel/base:1"}
    (single_image_layout / "index.json").write_text(json.dumps(index))
    (single_image_layout / "blobs" / "sha256" / layer.digest[7:]).unlink()
    layout = OciLayout.open(single_image_layout)
    with RegistryClient(registry_server.host) as client, pytest.raises(BlobNotMounted):
        # the base repository lacks the layer: the registry opens a session instead (202)
        client.push_layout(layout, "cancel/app", ["1.0.0"], mount_from="cancel/base")
    storage = registry_server.storage_dir
    assert list(storage.glob("docker/registry/v2/repositories/cancel/app/_uploads/*"))
    assert _open_sessions(storage) == []
