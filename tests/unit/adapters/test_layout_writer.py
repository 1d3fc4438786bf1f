"""New manifests written into a layout, and layouts that name layers they do not hold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import BASE_NAME_ANNOTATION, OciLayout, sha256_digest
from shipyard.adapters.oci_layout.writer import replace_manifests
from shipyard.errors import UsageError
from shipyard_testing.oci_layouts import REF_NAME, write_oci_layout

ELSEWHERE = "sha256:" + "e" * 64  # a blob only the registry holds
BASE = {BASE_NAME_ANNOTATION: "127.0.0.1:5000/team/base:bookworm"}


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
    replace_manifests(before, new, BASE)
    after = OciLayout.open(root)
    assert after.digest != before.digest
    assert [image.content for image in after.images] == list(new.values())
    assert after.platforms == before.platforms
    assert after.external == {ELSEWHERE} and after.base_name == BASE[BASE_NAME_ANNOTATION]
    # index.json (never pushed) names the base beside the tag; the pushed bytes do not
    entry = json.loads((root / "index.json").read_text())["manifests"]
    assert entry == [{"mediaType": before.media_type, "digest": after.digest,
                      "size": len(after.top_content),
                      "annotations": {REF_NAME: "1.2.3", **BASE}}]
    assert BASE_NAME_ANNOTATION.encode() not in after.top_content
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
    replace_manifests(before, with_first_layer(before), BASE)
    after = OciLayout.open(root)
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
        replace_manifests(layout, with_first_layer(layout), BASE)
        digests.append(OciLayout.open(root).digest)
    assert digests[0] == digests[1]


def test_only_a_layout_naming_its_base_may_lack_layers(tmp_path: Path) -> None:
    bare = OciLayout.open(write_oci_layout(tmp_path / "bare"))
    replace_manifests(bare, with_first_layer(bare))
    # without a base named, a missing layer is a broken layout
    with pytest.raises(UsageError, match=r"is incomplete: blob sha256:e+ is missing"):
        OciLayout.open(bare.path)
    # naming its base: the layer comes from the base's registry
    root = write_oci_layout(tmp_path / "based")
    layout = OciLayout.open(root)
    replace_manifests(layout, with_first_layer(layout), BASE)
    rewritten = OciLayout.open(root)
    assert rewritten.external == {ELSEWHERE}
    # streaming a layer the layout does not hold says where it must come from
    with pytest.raises(UsageError, match=r"not in OCI layout .*: it is a blob of its base "
                                         r"image 127\.0\.0\.1:5000/team/base:bookworm"):
        rewritten.verify_blob(rewritten.images[0].layers[0])
    # a config is never optional
    rewritten.blob_path(rewritten.images[0].config.digest).unlink()
    with pytest.raises(UsageError, match="is missing"):
        OciLayout.open(root)


def test_a_layout_naming_its_base_with_every_blob_lacks_none(tmp_path: Path) -> None:
    layout = OciLayout.open(write_oci_layout(tmp_path / "oci"))
    replace_manifests(layout, {layout.images[0].descriptor.digest: layout.images[0].content},
                      BASE)
    again = OciLayout.open(layout.path)
    assert again.external == frozenset() and again.base_name is not None
    assert again.digest == layout.digest
    first = again.images[0].layers[0]
    assert sha256_digest(b"".join(again.iter_blob(first))) == first.digest
