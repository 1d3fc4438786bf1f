"""New manifests written into a layout, and layouts that name layers they do not hold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OciLayout, sha256_digest
from shipyard.adapters.oci_layout.writer import replace_manifests
from shipyard.errors import UsageError
from shipyard_testing.oci_layouts import REF_NAME, write_oci_layout

ELSEWHERE = "sha256:" + "e" * 64  # a blob only the registry holds


def with_first_layer(layout: OciLayout, digest: str = ELSEWHERE, size: int = 1234
                     ) -> dict[str, bytes]:
    """Each image's manifest with its first layer named by `digest`: old digest -> bytes."""
    new = {}
    for image in layout.images:
        manifest = json.loads(image.content)
        manifest["layers"][0].update(digest=digest, size=size)
        new[image.descriptor.digest] = json.dumps(manifest).encode()
    return new


@pytest.mark.parametrize("platforms", [("linux/amd64",), ("linux/amd64", "linux/arm64")])
def test_new_manifests_replace_the_old_ones_and_annotations_stay(tmp_path: Path,
                                                                 platforms) -> None:
    root = write_oci_layout(tmp_path / "oci", platforms, ref_name="1.2.3")
    before = OciLayout.open(root)
    new = with_first_layer(before)
    replace_manifests(before, new)
    after = OciLayout.open(root, external={ELSEWHERE})
    assert after.digest != before.digest
    assert [image.content for image in after.images] == list(new.values())
    assert after.platforms == before.platforms
    assert after.external == {ELSEWHERE}
    entry = json.loads((root / "index.json").read_text())["manifests"]
    assert entry == [{"mediaType": before.media_type, "digest": after.digest,
                      "size": len(after.top_content), "annotations": {REF_NAME: "1.2.3"}}]
    if after.is_index:  # the children keep their platforms
        children = json.loads(after.top_content)["manifests"]
        assert [c["platform"] for c in children] == [
            c["platform"] for c in json.loads(before.top_content)["manifests"]]
    # the old manifests stay: a layout may hold blobs nothing names
    assert all(before.blob_path(image.descriptor.digest).is_file() for image in before.images)


def test_an_index_json_listing_each_platform_is_re_pointed_in_place(tmp_path: Path) -> None:
    # older buildx: index.json lists the per-platform manifests, with no index blob
    root = write_oci_layout(tmp_path / "oci", ("linux/amd64", "linux/arm64"), ref_name=None)
    children = json.loads(OciLayout.open(root).top_content)["manifests"]
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": children}))
    before = OciLayout.open(root)
    assert before.is_index
    replace_manifests(before, with_first_layer(before))
    after = OciLayout.open(root, external={ELSEWHERE})
    assert [i.layers[0].digest for i in after.images] == [ELSEWHERE, ELSEWHERE]
    assert after.platforms == ["linux/amd64", "linux/arm64"]
    entries = json.loads((root / "index.json").read_text())["manifests"]
    assert [e["digest"] for e in entries] == [i.descriptor.digest for i in after.images]


def test_the_same_rewrite_gives_the_same_digest(tmp_path: Path) -> None:
    first = write_oci_layout(tmp_path / "a", ("linux/amd64", "linux/arm64"))
    second = shutil.copytree(first, tmp_path / "b")
    digests = []
    for root in (first, second):
        layout = OciLayout.open(root)
        replace_manifests(layout, with_first_layer(layout))
        digests.append(OciLayout.open(root, external={ELSEWHERE}).digest)
    assert digests[0] == digests[1]


def test_only_layers_named_external_may_be_missing(tmp_path: Path) -> None:
    root = write_oci_layout(tmp_path / "oci")
    layout = OciLayout.open(root)
    replace_manifests(layout, with_first_layer(layout))
    # a plain open refuses it: without knowing, a missing layer is a broken layout
    with pytest.raises(UsageError, match=r"is incomplete: blob sha256:e+ is missing"):
        OciLayout.open(root)
    rewritten = OciLayout.open(root, external={ELSEWHERE})
    # another missing layer is still an error, external or not
    other = rewritten.images[0].layers[1]
    rewritten.blob_path(other.digest).unlink()
    with pytest.raises(UsageError, match=f"blob {other.digest} is missing"):
        OciLayout.open(root, external={ELSEWHERE})
    # streaming a layer the layout does not hold says where it must come from
    external = rewritten.images[0].layers[0]
    with pytest.raises(UsageError, match=r"not in OCI layout .*: the registry must provide it"):
        rewritten.verify_blob(external)


def test_a_layer_named_external_but_present_is_an_ordinary_blob(tmp_path: Path) -> None:
    layout = OciLayout.open(write_oci_layout(tmp_path / "oci"))
    first = layout.images[0].layers[0]
    again = OciLayout.open(layout.path, external={first.digest})
    assert again.external == frozenset()
    assert again.digest == layout.digest
    assert sha256_digest(b"".join(again.iter_blob(first))) == first.digest
