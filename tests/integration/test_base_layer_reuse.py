"""A rebuilt image on the real registry: its lower layers are the base image's blobs, mounted
from the base's repository, and the image pulls whole (checked with skopeo)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import RegistryClient
from shipyard.domain.names import ImageReference
from shipyard.errors import RegistryError
from shipyard.usecases.base_layers import reuse_base_blobs
from shipyard_testing.oci_layouts import sha256, write_oci_layout
from shipyard_testing.rebuilt_layers import recompressed, text_layer

from .conftest import SKOPEO, TWO_PLATFORMS

pytestmark = pytest.mark.integration

BASE_LAYERS = [text_layer("etc/os-release", "debian bookworm"),
               text_layer("usr/lib/python3/site.py", "import sys")]


@pytest.fixture
def rebuilt(registry_server, tmp_path: Path):
    """The base pushed to t/base:bookworm, and a two-platform build on it whose base layers
    buildah-like gzip wrote anew, rewritten to name the base's blobs."""
    base = OciLayout.open(write_oci_layout(tmp_path / "base", TWO_PLATFORMS, base=None,
                                           layers=BASE_LAYERS))
    built = OciLayout.open(write_oci_layout(
        tmp_path / "built", TWO_PLATFORMS, base=None,
        layers=[*map(recompressed, BASE_LAYERS), text_layer("app/main.py", "print(1)")]))
    with RegistryClient(registry_server.host) as client:
        client.push_layout(base, "t/base", ["bookworm"])
        reuse = reuse_base_blobs(built, client, ImageReference(registry_server.host, "t/base",
                                                               "bookworm"))
    return built, reuse


def skopeo(*args: str, home: Path) -> bytes:
    done = subprocess.run([SKOPEO, *args], capture_output=True, timeout=120, check=False,
                          env={**os.environ, "HOME": str(home)})
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def test_the_pushed_image_mounts_its_base_layers_and_pulls_whole(
        registry_server, rebuilt, tmp_path: Path) -> None:
    built, reuse = rebuilt
    base_blobs = [sha256(layer.blob) for layer in BASE_LAYERS]
    assert reuse.reused_layers == 4 and reuse.layout.external == set(base_blobs)
    # the rewritten layout is one skopeo reads: manifests and configs, as written
    raw = skopeo("inspect", "--raw", f"oci:{built.path}", home=tmp_path)
    assert raw == reuse.layout.top_content
    local = json.loads(skopeo("inspect", "--override-arch", "amd64", f"oci:{built.path}",
                              home=tmp_path))
    assert local["Layers"][:2] == base_blobs and len(local["Layers"]) == 3

    with RegistryClient(registry_server.host) as client:
        report = client.push_layout(reuse.layout, "t/app", ["1.0.0"], mount_from="t/base")
    # the two base blobs (shared by both platforms) mounted, nothing of theirs uploaded
    assert report.mounted_blobs == 2
    own = [blob for blob in reuse.layout.blobs() if blob.digest not in base_blobs]
    assert report.pushed_blobs == 2 + len(own)
    manifests = len(reuse.layout.top_content) + sum(
        child.descriptor.size for child in reuse.layout.children)
    assert report.bytes_uploaded == sum(blob.size for blob in own) + manifests

    flags = ["--tls-verify=false"]
    index = json.loads(skopeo("inspect", *flags, "--raw",
                              f"docker://{registry_server.host}/t/app:1.0.0", home=tmp_path))
    assert len(index["manifests"]) == 2
    for child in index["manifests"]:
        manifest = json.loads(skopeo("inspect", *flags, "--raw", "docker://"
                                     f"{registry_server.host}/t/app@{child['digest']}",
                                     home=tmp_path))
        assert [layer["digest"] for layer in manifest["layers"][:2]] == base_blobs
    # every blob of the image is there: a full copy out of the registry succeeds and verifies
    copy = tmp_path / "copy"
    skopeo("copy", "--quiet", "--all", "--src-tls-verify=false",
           f"docker://{registry_server.host}/t/app:1.0.0", f"oci:{copy}", home=tmp_path)
    pulled = OciLayout.open(copy)
    assert pulled.digest == reuse.layout.digest
    for blob in pulled.blobs():
        pulled.verify_blob(blob)


def test_a_layer_that_cannot_be_mounted_stops_the_push_before_any_upload(
        registry_server, rebuilt) -> None:
    _built, reuse = rebuilt
    with RegistryClient(registry_server.host) as client:
        # a repository without the base's blobs: the registry opens an upload instead
        with pytest.raises(RegistryError) as caught:
            client.push_layout(reuse.layout, "t/app", ["1.0.0"], mount_from="t/elsewhere")
        assert "is not in the OCI layout" in str(caught.value)
        assert "BLOB_MOUNTING" in str(caught.value)
        with pytest.raises(RegistryError, match=r"from another repository \(none named\)"):
            client.push_layout(reuse.layout, "t/app", ["1.0.0"])
        # nothing of the image is in the registry: no tag, no manifest, not one blob
        assert client.manifest_digest("t/app", "1.0.0") is None
        assert client.manifest_digest("t/app", reuse.layout.digest) is None
        assert not any(client.blob_exists("t/app", blob.digest)
                       for blob in reuse.layout.blobs())
