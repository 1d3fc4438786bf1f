"""After a build: the layout's manifests name the base image's blobs where its layers are the
base's, platform by platform, read from a fake registry serving the base image."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OciLayout, sha256_digest
from shipyard.domain.names import ImageReference
from shipyard.errors import NotFoundError
from shipyard.usecases.base_layers import reuse_base_blobs
from shipyard.usecases.push import base_image
from shipyard.usecases.target import Target
from shipyard_testing.oci_layouts import OCI_INDEX, platform_json, write_oci_layout
from shipyard_testing.rebuilt_layers import recompressed, text_layer

BASE = ImageReference("127.0.0.1:5000", "team/base", "bookworm")
AMD64_BASE = text_layer("etc/os-release", "amd64 debian")
ARM64_BASE = text_layer("etc/os-release", "arm64 debian")
APP = text_layer("app/main.py", "print('hello')")


class BaseRegistry:
    """The base image as a registry serves it, from OCI layouts on disk: `top` under the tag,
    every blob of the layouts by digest. Records what was asked."""

    def __init__(self, top: bytes, *layouts: Path) -> None:
        self.top = top
        self.blobs = {f"sha256:{path.name}": path.read_bytes()
                      for layout in layouts for path in (layout / "blobs" / "sha256").iterdir()}
        self.asked: list[str] = []

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        assert repository == BASE.repository
        self.asked.append(reference)
        content = self.top if reference == BASE.tag else self.blobs[reference]
        return content, json.loads(content)["mediaType"], sha256_digest(content)

    def get_small_blob(self, repository: str, digest: str) -> bytes:
        self.asked.append(digest)
        return self.blobs[digest]


def base_index(tmp_path: Path) -> BaseRegistry:
    """A two-platform base, each platform with its own layer, as a real base has."""
    amd64 = OciLayout.open(write_oci_layout(tmp_path / "base-amd64", base=None,
                                            layers=[AMD64_BASE]))
    arm64 = OciLayout.open(write_oci_layout(tmp_path / "base-arm64", ("linux/arm64",),
                                            base=None, layers=[ARM64_BASE]))
    children = [{"mediaType": layout.media_type, "digest": layout.digest,
                 "size": len(layout.top_content), "platform": platform_json(platform)}
                for layout, platform in ((amd64, "linux/amd64"), (arm64, "linux/arm64/v8"))]
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children})
    return BaseRegistry(index.encode(), amd64.path, arm64.path)


def test_one_platform_matching_is_rewritten_and_the_other_kept(tmp_path: Path) -> None:
    registry = base_index(tmp_path)
    # Both platforms built on the amd64 base's content: only amd64 is really on its base.
    built = OciLayout.open(write_oci_layout(
        tmp_path / "built", ("linux/amd64", "linux/arm64"), base=None,
        layers=[recompressed(AMD64_BASE), APP]))
    reuse = reuse_base_blobs(built, registry, BASE)
    amd64, arm64 = reuse.layout.images
    assert reuse.reused_layers == 1 and reuse.warnings == ()
    assert amd64.layers[0].digest == sha256_digest(AMD64_BASE.blob)
    assert amd64.layers[1] == built.images[0].layers[1]  # the app layer is the build's
    assert amd64.config == built.images[0].config  # diff_ids unchanged
    assert arm64 == built.images[1]  # left as built
    assert reuse.layout.external == {sha256_digest(AMD64_BASE.blob)}
    assert reuse.layout.digest != built.digest
    assert OciLayout.open(built.path) == reuse.layout
    # index.json names the base it now lacks blobs of, as read (the tag, and its digest)
    (entry,) = json.loads((built.path / "index.json").read_text())["manifests"]
    assert entry["annotations"] == {
        "org.opencontainers.image.ref.name": "latest",
        "org.opencontainers.image.base.name": "127.0.0.1:5000/team/base:bookworm",
        "org.opencontainers.image.base.digest": sha256_digest(registry.top)}


def test_the_same_build_on_the_same_base_gets_the_same_digest(tmp_path: Path) -> None:
    registry = base_index(tmp_path)
    first = write_oci_layout(tmp_path / "a", ("linux/amd64",), base=None,
                             layers=[recompressed(AMD64_BASE), APP])
    second = shutil.copytree(first, tmp_path / "b")
    digests = {reuse_base_blobs(OciLayout.open(root), registry, BASE).layout.digest
               for root in (first, second)}
    assert len(digests) == 1


def test_a_single_image_base_for_the_same_platform(tmp_path: Path) -> None:
    base = OciLayout.open(write_oci_layout(tmp_path / "base", base=None, layers=[AMD64_BASE]))
    registry = BaseRegistry(base.top_content, base.path)
    built = OciLayout.open(write_oci_layout(tmp_path / "built", base=None,
                                            layers=[recompressed(AMD64_BASE), APP]))
    reuse = reuse_base_blobs(built, registry, BASE)
    assert reuse.reused_layers == 1
    assert reuse.layout.images[0].layers[0] == base.images[0].layers[0]


def test_a_base_for_another_platform_changes_nothing(tmp_path: Path) -> None:
    base = OciLayout.open(write_oci_layout(tmp_path / "base", ("linux/arm64",), base=None,
                                           layers=[AMD64_BASE]))
    built = OciLayout.open(write_oci_layout(tmp_path / "built", base=None,
                                            layers=[recompressed(AMD64_BASE), APP]))
    index_json = (built.path / "index.json").read_bytes()
    reuse = reuse_base_blobs(built, BaseRegistry(base.top_content, base.path), BASE)
    assert reuse.layout is built and reuse.reused_layers == 0 and reuse.warnings == ()
    assert (built.path / "index.json").read_bytes() == index_json


def test_a_base_that_cannot_be_read_keeps_the_build_with_a_warning(tmp_path: Path) -> None:
    class Unreadable(BaseRegistry):
        def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
            raise NotFoundError("image team/base:bookworm does not exist; push it first")

    built = OciLayout.open(write_oci_layout(tmp_path / "built", base=None,
                                            layers=[recompressed(AMD64_BASE), APP]))
    files = sorted(path.name for path in (built.path / "blobs" / "sha256").iterdir())
    reuse = reuse_base_blobs(built, Unreadable(b"{}"), BASE)
    assert reuse.layout is built and reuse.reused_layers == 0
    assert reuse.warnings == (
        "base image 127.0.0.1:5000/team/base:bookworm could not be read (image "
        "team/base:bookworm does not exist; push it first); the image keeps the build's own "
        "layer blobs, which are pushed",)
    assert sorted(path.name for path in (built.path / "blobs" / "sha256").iterdir()) == files


@pytest.mark.parametrize(
    ("value", "base"),
    [
        ("127.0.0.1:5000/team/base:bookworm", BASE),
        (f"127.0.0.1:5000/team/base@sha256:{'a' * 64}",
         ImageReference("127.0.0.1:5000", "team/base", digest="sha256:" + "a" * 64)),
        ("127.0.0.1:5000/svc:1.0.0", None),  # the target's own repository is no base
        ("debian:12", None),  # another registry: nothing to mount from
        ("127.0.0.1:5000/NOT VALID", None),
    ],
)
def test_the_base_image_is_the_build_arg_naming_the_target_registry(value, base) -> None:
    target = Target("r", "123456789012", "127.0.0.1:5000", "svc")
    assert base_image({"BASE_IMAGE": value, "VERSION": "1.0.0"}, target) == base
