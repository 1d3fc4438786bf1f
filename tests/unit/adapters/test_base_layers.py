"""A built image's manifest naming its base image's layer blobs: when, and what it looks like."""

from __future__ import annotations

import json

import pytest

from shipyard.adapters.oci_layout.base_layers import (
    config_digest,
    config_platform,
    platform_manifest,
    reuse_base_layers,
    same_platform,
)

OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(name: str) -> str:
    """A made-up sha256 digest, told apart by its name: `digest("a")` = sha256:aaaa…"""
    return "sha256:" + (name * 64)[:64]


def layer(name: str, size: int = 100, media_type: str = OCI_GZIP, **extra: object) -> dict:
    return {"mediaType": media_type, "digest": digest(name), "size": size, **extra}


def manifest(*layers: dict) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": digest("c"), "size": 10},
                       "layers": list(layers),
                       "annotations": {"org.opencontainers.image.version": "1.2.3"}}).encode()


def config(*diff_ids: str, architecture: str = "amd64") -> bytes:
    return json.dumps({"os": "linux", "architecture": architecture,
                       "rootfs": {"type": "layers", "diff_ids": [digest(d) for d in diff_ids]}
                       }).encode()


# The image's layers: blobs 1, 2, 3 (buildah's gzip) holding tars A, B, C.
IMAGE = (manifest(layer("1"), layer("2"), layer("3")), config("a", "b", "c"))


@pytest.mark.parametrize(
    ("base_layers", "base_diff_ids", "swapped"),
    [
        # the base's only layer is the image's first: its blob replaces buildah's
        ([layer("e", 90)], ("a",), 1),
        # two base layers, both the image's first two
        ([layer("e", 90), layer("f", 80)], ("a", "b"), 2),
        # a Docker-typed base blob is the same gzip tar: reused, named as the OCI manifest does
        ([layer("e", 90, DOCKER_GZIP)], ("a",), 1),
    ],
)
def test_a_full_prefix_match_names_the_base_blobs(base_layers, base_diff_ids, swapped) -> None:
    built_manifest, built_config = IMAGE
    reuse = reuse_base_layers(built_manifest, built_config, manifest(*base_layers),
                              config(*base_diff_ids))
    assert reuse.manifest is not None and reuse.reason == ""
    new, old = json.loads(reuse.manifest), json.loads(built_manifest)
    expected = [{**ours, "digest": theirs["digest"], "size": theirs["size"]}
                for ours, theirs in zip(old["layers"], base_layers, strict=False)]
    assert new["layers"][:swapped] == expected
    assert new["layers"][swapped:] == old["layers"][swapped:]  # the image's own layers stay
    assert all(entry["mediaType"] == OCI_GZIP for entry in new["layers"])
    # the config (diff_ids) and everything else in the manifest are as built
    assert {k: v for k, v in new.items() if k != "layers"} == {
        k: v for k, v in old.items() if k != "layers"}
    assert [d.digest for d in reuse.reused] == [entry["digest"] for entry in base_layers]
    # same inputs, same bytes: a reproducible build stays reproducible
    assert reuse_base_layers(built_manifest, built_config, manifest(*base_layers),
                             config(*base_diff_ids)).manifest == reuse.manifest


@pytest.mark.parametrize(
    ("base_manifest", "base_config", "reason"),
    [
        # partial: the base's first layer is the image's, its second is not (another base)
        (manifest(layer("e"), layer("f")), config("a", "x"), "layer 2 is not the base image's"),
        # no match at all: built FROM something else
        (manifest(layer("e")), config("x"), "layer 1 is not the base image's"),
        # different count: the base has more layers than the image
        (manifest(*(layer(n) for n in "def9")), config("a", "b", "c", "d"),
         "the base image has 4 layers and the image 3"),
        # different count: the base's manifest and config disagree
        (manifest(layer("e"), layer("f")), config("a"),
         "the base image's manifest lists 2 layers and its config 1 diff_ids"),
        # a base without layers is no base
        (manifest(), config(), "the base image has 0 layers"),
        # same content, other encoding: a zstd blob would change who can pull the image
        (manifest(layer("e", media_type=OCI_ZSTD)), config("a"), "the base's blob is"),
        # foreign layers are not in the registry to mount
        (manifest(layer("e", urls=["https://example.com/l"])), config("a"), "foreign layer"),
        # buildah's blobs are the base's already: nothing to change
        (manifest(layer("1")), config("a"), "the base image's blobs already"),
        # a base that is not an image manifest
        (b"[]", config("a"), "not a JSON object"),
        (manifest(layer("e")), b'{"rootfs": {}}', "no rootfs.diff_ids"),
    ],
)
def test_otherwise_the_image_is_kept_as_built(base_manifest, base_config, reason) -> None:
    reuse = reuse_base_layers(*IMAGE, base_manifest, base_config)
    assert reuse.manifest is None and reuse.reused == ()
    assert reason in reuse.reason


def test_an_annotated_layer_of_the_image_is_kept() -> None:
    # estargz and zstd:chunked annotate a layer with digests of its compressed bytes
    built = manifest(layer("1", annotations={"containerd.io/snapshot/stargz/toc.digest": "x"}))
    reuse = reuse_base_layers(built, config("a"), manifest(layer("e")), config("a"))
    assert reuse.manifest is None and "annotations" in reuse.reason


def test_an_inconsistent_built_image_is_kept() -> None:
    reuse = reuse_base_layers(manifest(layer("1"), layer("2")), config("a"),
                              manifest(layer("e")), config("a"))
    assert reuse.manifest is None
    assert "the image's manifest lists 2 layers and its config 1" in reuse.reason


# --- which base image: the platform's child of an index ---------------------------------------

INDEX = json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": OCI_MANIFEST, "digest": digest("a"), "size": 1,
     "platform": {"os": "linux", "architecture": "amd64"}},
    {"mediaType": OCI_MANIFEST, "digest": digest("b"), "size": 2,
     "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"mediaType": OCI_MANIFEST, "digest": digest("c"), "size": 3,
     "platform": {"os": "unknown", "architecture": "unknown"}},
]}).encode()


@pytest.mark.parametrize(
    ("platform", "child"),
    [
        ("linux/amd64", "a"),
        ("linux/arm64", "b"),  # arm64 is arm64/v8
        ("linux/arm64/v8", "b"),
        ("linux/arm/v7", None),  # the base has no such image
        ("linux/s390x", None),
    ],
)
def test_the_index_child_for_a_platform(platform: str, child: str | None) -> None:
    found = platform_manifest(INDEX, platform)
    assert (found.digest if found else None) == (digest(child) if child else None)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("linux/arm64", "linux/arm64/v8", True),
        ("linux/arm", "linux/arm/v7", True),
        ("linux/arm/v6", "linux/arm/v7", False),
        ("linux/amd64", "linux/arm64", False),
        ("linux/amd64", "windows/amd64", False),
    ],
)
def test_same_platform(first: str, second: str, same: bool) -> None:
    assert same_platform(first, second) is same


def test_config_digest_and_platform() -> None:
    assert config_digest(manifest(layer("e"))) == digest("c")
    assert config_digest(b'{"config": {"digest": "sha256:../../etc"}}') is None
    assert config_digest(b"not json") is None
    assert config_platform(config("a", architecture="arm64")) == "linux/arm64"
    assert config_platform(b"{}") is None
