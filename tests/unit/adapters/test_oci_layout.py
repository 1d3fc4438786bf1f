"""Reading OCI image layouts: top-level manifest, blobs, platforms, streamed verification."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import (
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    OciLayout,
    sha256_digest,
)
from shipyard.errors import UsageError

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"


def test_single_image_layout(tmp_path: Path, build_layout) -> None:
    layout = OciLayout.open(build_layout(tmp_path / "oci"))
    assert not layout.is_index
    assert layout.media_type == OCI_MANIFEST
    assert layout.digest == sha256_digest(layout.top_content)
    assert layout.children == ()
    # No platform in index.json: it comes from the image config.
    assert layout.platforms == ["linux/amd64"]
    image = layout.images[0]
    assert [b.media_type for b in layout.blobs()] == [CONFIG, LAYER, LAYER, LAYER]
    assert layout.blobs() == list(image.blobs)
    assert layout.descriptors()[-1] == layout.top


def test_index_layout_lists_children_platforms_and_deduplicated_blobs(tmp_path: Path,
                                                                      build_layout) -> None:
    layout = OciLayout.open(build_layout(tmp_path / "oci", ("linux/amd64", "linux/arm64/v8")))
    assert layout.is_index and layout.media_type == OCI_INDEX
    assert layout.platforms == ["linux/amd64", "linux/arm64/v8"]
    assert [child.platform for child in layout.children] == ["linux/amd64", "linux/arm64/v8"]
    blobs = layout.blobs()
    # 2 configs + 2x2 own layers + 1 shared base layer, each digest once
    assert len(blobs) == 7
    assert len({b.digest for b in blobs}) == 7
    descriptors = layout.descriptors()
    assert descriptors[-3:-1] == [child.descriptor for child in layout.children]
    assert descriptors[-1] == layout.top


def test_child_platform_falls_back_to_config(tmp_path: Path, build_layout) -> None:
    root = build_layout(tmp_path / "oci", ("linux/arm64",))
    child = OciLayout.open(root).images[0].descriptor
    body = {"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": child.digest,
                           "size": child.size}]}
    entry = {"mediaType": OCI_INDEX, **build_layout.blob(root, json.dumps(body).encode())}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    assert OciLayout.open(root).platforms == ["linux/arm64"]


def test_attestation_manifests_are_children_but_not_platforms(tmp_path: Path, build_layout) -> None:
    root = build_layout(tmp_path / "oci", ("linux/amd64", "unknown/unknown"))
    layout = OciLayout.open(root)
    assert len(layout.children) == 2
    assert layout.platforms == ["linux/amd64"]


@pytest.mark.parametrize(
    "prepare",
    [
        # not even a folder
        lambda root: None,
        # a folder without the oci-layout marker
        lambda root: root.mkdir(),
    ],
)
def test_not_a_layout(tmp_path: Path, prepare) -> None:
    root = tmp_path / "missing"
    prepare(root)
    with pytest.raises(UsageError, match=r"is not an OCI image layout \(no oci-layout file\); "
                                         r"pass a folder written by a build or `skopeo copy"):
        OciLayout.open(root)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        # the layout lost its index
        (lambda root: (root / "index.json").unlink(), "no index.json"),
        # a layer file is gone
        (lambda root: _largest_blob(root).unlink(), "is missing"),
        # a layer file was truncated (size check at open time)
        (lambda root: _largest_blob(root).write_bytes(b"x"), "is corrupt"),
        # index.json is not JSON
        (lambda root: (root / "index.json").write_text("{"), "not valid JSON"),
        # index.json lists nothing
        (lambda root: (root / "index.json").write_text('{"manifests": []}'), "holds no image"),
        # a digest that would escape blobs/ is refused, not opened
        (lambda root: (root / "index.json").write_text(json.dumps({"manifests": [
            {"mediaType": OCI_MANIFEST, "digest": "sha256:../../etc/passwd", "size": 1}]})),
         "not a sha256 digest"),
        # the oci-layout marker has no version
        (lambda root: (root / "oci-layout").write_text("{}"), "imageLayoutVersion"),
    ],
)
def test_broken_layouts_are_usage_errors(tmp_path: Path, build_layout, damage,
                                         message: str) -> None:
    root = build_layout(tmp_path / "oci")
    damage(root)
    with pytest.raises(UsageError, match=message):
        OciLayout.open(root)


def _largest_blob(root: Path) -> Path:
    return max((root / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)


def test_corrupt_manifest_is_detected(tmp_path: Path, build_layout) -> None:
    root = build_layout(tmp_path / "oci")
    digest = json.loads((root / "index.json").read_text())["manifests"][0]["digest"]
    path = root / "blobs" / "sha256" / digest[7:]
    content = path.read_bytes()
    path.write_bytes(content.replace(b"schemaVersion", b"schemaVersioN"))
    with pytest.raises(UsageError, match="does not match its sha256"):
        OciLayout.open(root)


def test_iter_blob_streams_in_chunks_and_verifies(tmp_path: Path, build_layout) -> None:
    root = build_layout(tmp_path / "oci", layer_sizes=(10_000,))
    layout = OciLayout.open(root)
    layer = max(layout.blobs(), key=lambda b: b.size)
    chunks = list(layout.iter_blob(layer, chunk_size=1024))
    assert len(chunks) == 10 and all(len(c) <= 1024 for c in chunks)
    assert "sha256:" + hashlib.sha256(b"".join(chunks)).hexdigest() == layer.digest
    # Same size, different content: caught when the stream ends.
    layout.blob_path(layer.digest).write_bytes(os.urandom(layer.size))
    with pytest.raises(UsageError, match="does not match its sha256 digest"):
        list(layout.iter_blob(layer, chunk_size=1024))
    with pytest.raises(UsageError, match="corrupt"):
        layout.verify_blob(layer)


def test_iter_blob_stops_before_sending_more_than_declared(tmp_path: Path, build_layout) -> None:
    layout = OciLayout.open(build_layout(tmp_path / "oci", layer_sizes=(4096,)))
    layer = max(layout.blobs(), key=lambda b: b.size)
    layout.blob_path(layer.digest).write_bytes(os.urandom(layer.size + 10))
    received = 0
    with pytest.raises(UsageError, match="larger than its declared"):
        for chunk in layout.iter_blob(layer, chunk_size=1024):
            received += len(chunk)
    assert received <= layer.size


def test_iter_blob_missing_file(tmp_path: Path, build_layout) -> None:
    layout = OciLayout.open(build_layout(tmp_path / "oci"))
    layer = layout.blobs()[-1]
    layout.blob_path(layer.digest).unlink()
    with pytest.raises(UsageError, match="is missing"):
        list(layout.iter_blob(layer))


def test_several_entries_choose_by_ref_name(tmp_path: Path, build_layout) -> None:
    first = build_layout(tmp_path / "a")
    second = build_layout(tmp_path / "b")
    # Merge b's blobs into a, and list both images under ref names.
    for blob in (second / "blobs" / "sha256").iterdir():
        (first / "blobs" / "sha256" / blob.name).write_bytes(blob.read_bytes())
    entries = [json.loads((root / "index.json").read_text())["manifests"][0]
               for root in (first, second)]
    for entry, name in zip(entries, ("1.0.0", "2.0.0"), strict=True):
        entry["annotations"] = {"org.opencontainers.image.ref.name": name}
    (first / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    assert OciLayout.open(first, ref="2.0.0").digest == entries[1]["digest"]
    with pytest.raises(UsageError, match=r"holds 2 images .*'1.0.0', '2.0.0'"):
        OciLayout.open(first)
    with pytest.raises(UsageError, match=r"no image named '3\.0\.0'"):
        OciLayout.open(first, ref="3.0.0")


def test_platform_entries_in_index_json_become_one_index(tmp_path: Path, build_layout) -> None:
    # Older buildx wrote the per-platform manifests straight into index.json.
    root = build_layout(tmp_path / "oci", ("linux/amd64", "linux/arm64"))
    top = OciLayout.open(root)
    children = json.loads(top.top_content)["manifests"]
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": children}))
    layout = OciLayout.open(root)
    assert layout.is_index and layout.platforms == ["linux/amd64", "linux/arm64"]
    assert layout.digest == sha256_digest(layout.top_content)
    assert [c.descriptor.digest for c in layout.children] == [c["digest"] for c in children]


def test_nested_index_is_refused(tmp_path: Path, build_layout) -> None:
    root = build_layout(tmp_path / "oci", ("linux/amd64", "linux/arm64"))
    inner = json.loads((root / "index.json").read_text())["manifests"][0]
    outer = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [inner]}
    entry = {"mediaType": OCI_INDEX, **build_layout.blob(root, json.dumps(outer).encode())}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    with pytest.raises(UsageError, match="nests another index"):
        OciLayout.open(root)


def test_descriptor_is_index() -> None:
    assert Descriptor(OCI_INDEX, "sha256:" + "0" * 64, 1).is_index
    assert not Descriptor(OCI_MANIFEST, "sha256:" + "0" * 64, 1).is_index
