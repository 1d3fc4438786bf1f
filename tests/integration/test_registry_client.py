"""The registry client against the real CNCF distribution registry, checked with skopeo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OCI_INDEX, OCI_MANIFEST, OciLayout, sha256_digest
from shipyard.adapters.registry import BlobSkipped, RegistryClient, RequestRetried
from shipyard.errors import AuthError, RegistryError
from shipyard_sandbox.registry import free_port
from shipyard_testing.fault_proxy import Fault, fault_proxy

pytestmark = pytest.mark.integration

REPO = "gamepulse/api"


def _client(server, **options) -> RegistryClient:
    options.setdefault("auth", server.auth)
    return RegistryClient(options.pop("host", server.host), **options)


# --- pushes checked by an independent client ---------------------------------------------------


def test_single_image_push_matches_skopeo(skopeo, registry_server,
                                          single_image_layout: Path) -> None:
    layout = OciLayout.open(single_image_layout)
    with _client(registry_server) as client:
        report = client.push_layout(layout, REPO, ["1.0.0", "latest"])
    assert report.digest == layout.digest and report.media_type == OCI_MANIFEST
    assert report.pushed_blobs == 4 and report.skipped_blobs == 0
    assert report.tags_set == ["1.0.0", "latest"] and report.platforms == ["linux/amd64"]
    for tag in ("1.0.0", "latest"):
        raw = skopeo(registry_server, f"{REPO}:{tag}")
        assert raw == layout.top_content and sha256_digest(raw) == report.digest
    details = json.loads(skopeo(registry_server, f"{REPO}:1.0.0", raw=False))
    assert details["Digest"] == report.digest and details["Architecture"] == "amd64"
    assert len(details["Layers"]) == 3


def test_two_platform_index_push_matches_skopeo(skopeo, registry_server,
                                                two_platform_layout: Path) -> None:
    layout = OciLayout.open(two_platform_layout)
    with _client(registry_server) as client:
        report = client.push_layout(layout, REPO, ["2.0.0"])
    assert report.media_type == OCI_INDEX
    assert report.platforms == ["linux/amd64", "linux/arm64"]
    # two configs, 2x2 layers and the shared base layer once
    assert report.pushed_blobs == 7 and report.pushed_manifests == 3
    raw = skopeo(registry_server, f"{REPO}:2.0.0")
    assert raw == layout.top_content and sha256_digest(raw) == layout.digest
    for child in layout.children:
        by_digest = skopeo(registry_server, f"{REPO}@{child.descriptor.digest}")
        assert by_digest == child.content
        arch = child.platform.split("/")[1]
        details = json.loads(skopeo(registry_server, f"{REPO}:2.0.0", "--override-os=linux",
                                    f"--override-arch={arch}", raw=False))
        assert details["Architecture"] == arch and details["Digest"] == layout.digest
        config = skopeo(registry_server, f"{REPO}:2.0.0", "--config", "--override-os=linux",
                        f"--override-arch={arch}")
        assert sha256_digest(config) == json.loads(child.content)["config"]["digest"]
        assert json.loads(config)["architecture"] == arch


def test_pushing_again_is_heads_only_and_skips_everything(
        registry_server, two_platform_layout: Path) -> None:
    layout = OciLayout.open(two_platform_layout)
    with _client(registry_server) as client:
        client.push_layout(layout, REPO, ["2.0.0", "latest"])
    events: list = []
    with fault_proxy(registry_server.host, []) as proxy, \
            _client(registry_server, host=proxy.host, progress=events.append) as client:
        report = client.push_layout(layout, REPO, ["2.0.0", "latest"])
    assert report.pushed_blobs == 0 and report.skipped_blobs == 7
    assert report.tags_set == [] and report.tags_skipped == ["2.0.0", "latest"]
    assert report.bytes_uploaded == 0 and report.pushed_manifests == 0
    assert {method for method, _ in proxy.log} == {"HEAD"}
    assert sum(isinstance(e, BlobSkipped) for e in events) == 7


def test_tags_are_set_per_tag(skopeo, registry_server, oci_layout_factory) -> None:
    first = OciLayout.open(oci_layout_factory())
    second = OciLayout.open(oci_layout_factory())
    with _client(registry_server) as client:
        client.push_layout(first, REPO, ["1.0.0", "latest"])
        report = client.push_layout(second, REPO, ["1.1.0", "latest", "1.1.0"])
        assert report.tags_set == ["1.1.0", "latest"] and report.tags_skipped == []
        assert client.manifest_digest(REPO, "1.0.0") == first.digest
        assert client.manifest_digest(REPO, "1.1.0") == second.digest
        assert client.manifest_digest(REPO, "latest") == second.digest
        assert sorted(client.list_tags(REPO)) == ["1.0.0", "1.1.0", "latest"]
        report = client.push_layout(first, REPO, ["1.0.0", "latest"])
        assert report.tags_skipped == ["1.0.0"] and report.tags_set == ["latest"]
    assert sha256_digest(skopeo(registry_server, f"{REPO}:latest")) == first.digest


def test_big_layer_streams_through(registry_server, oci_layout_factory) -> None:
    layout = OciLayout.open(oci_layout_factory(base=6 << 20, layers=[6 << 20]))
    with _client(registry_server) as client:
        report = client.push_layout(layout, REPO, ["big"])
        assert report.bytes_uploaded > 12 * 1024 * 1024
        assert all(client.blob_exists(REPO, blob.digest) for blob in layout.blobs())


def test_cross_repository_mount(skopeo, registry_server, two_platform_layout: Path) -> None:
    layout = OciLayout.open(two_platform_layout)
    with _client(registry_server) as client:
        client.push_layout(layout, "gamepulse/base", ["1"])
    with _client(registry_server) as client:
        report = client.push_layout(layout, REPO, ["1"], mount_from="gamepulse/base")
    assert report.mounted_blobs == report.pushed_blobs == 7 and report.skipped_blobs == 0
    assert sha256_digest(skopeo(registry_server, f"{REPO}:1")) == layout.digest


def test_mount_from_a_missing_repository_falls_back(registry_server,
                                                    single_image_layout: Path) -> None:
    layout = OciLayout.open(single_image_layout)
    with _client(registry_server) as client:
        report = client.push_layout(layout, REPO, ["1"], mount_from="nobody/here")
    assert report.mounted_blobs == 0 and report.pushed_blobs == 4


def test_read_api(registry_server, oci_layout_factory) -> None:
    layouts = [OciLayout.open(oci_layout_factory()) for _ in range(2)]
    with _client(registry_server) as client:
        client.check_auth()
        assert client.list_tags(REPO) == []
        assert client.manifest_digest(REPO, "1") is None
        client.push_layout(layouts[0], REPO, [f"t{i}" for i in range(5)])
        client.push_layout(layouts[1], REPO, ["other"])
        # the registry pages by 2: Link headers must be followed
        assert sorted(client.list_tags(REPO, page_size=2)) == [
            "other", "t0", "t1", "t2", "t3", "t4"]
        content, media_type, digest = client.get_manifest(REPO, "t3")
        assert (content, media_type, digest) == (layouts[0].top_content, OCI_MANIFEST,
                                                 layouts[0].digest)
        assert client.delete_manifest(REPO, layouts[1].digest) is True
        assert client.manifest_digest(REPO, "other") is None
        assert client.delete_manifest(REPO, layouts[1].digest) is False
        assert client.blob_exists(REPO, layouts[0].blobs()[0].digest)


# --- authentication ------------------------------------------------------------------------


def test_basic_auth(skopeo, auth_registry_server, single_image_layout: Path) -> None:
    layout = OciLayout.open(single_image_layout)
    with _client(auth_registry_server) as client:
        client.check_auth()
        report = client.push_layout(layout, REPO, ["1.0.0"])
    assert sha256_digest(skopeo(auth_registry_server, f"{REPO}:1.0.0")) == report.digest


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        # a wrong password
        (("shipyard", "not-the-password"), "refused the credentials"),
        # no credentials at all
        (None, "requires credentials"),
    ],
)
def test_basic_auth_refused(auth_registry_server, single_image_layout: Path, auth,
                            message: str) -> None:
    layout = OciLayout.open(single_image_layout)
    with _client(auth_registry_server, auth=auth) as client:
        with pytest.raises(AuthError, match=message) as caught:
            client.push_layout(layout, REPO, ["1.0.0"])
        with pytest.raises(AuthError):
            client.check_auth()
    text = str(caught.value)
    assert auth_registry_server.host in text and "not-the-password" not in text
    assert "\n" not in text


def test_connection_refused_is_a_registry_error() -> None:
    port = free_port()
    sleeps: list[float] = []
    with RegistryClient(f"127.0.0.1:{port}", max_retries=2, sleep=sleeps.append) as client, \
            pytest.raises(RegistryError, match=r"still failed after 3 attempts \(ConnectError"):
        client.check_auth()
    assert len(sleeps) == 2


# --- faults ----------------------------------------------------------------------------------


def test_push_survives_injected_faults(skopeo, registry_server,
                                      two_platform_layout: Path) -> None:
    layout = OciLayout.open(two_platform_layout)
    faults = [
        Fault("429", "HEAD", r"/blobs/", times=2),
        Fault("503", "PUT", r"/blobs/uploads/", times=2),
        Fault("drop", "POST", r"/blobs/uploads/", times=1),
        Fault("reset-mid-body", "PUT", r"/blobs/uploads/", times=1),
        Fault("502", "PUT", r"/manifests/sha256:", times=1),
        Fault("drop", "PUT", r"/manifests/2\.0\.0$", times=1),
        Fault("504", "HEAD", r"/manifests/", times=1),
    ]
    sleeps: list[float] = []
    events: list = []
    with fault_proxy(registry_server.host, faults) as proxy, \
            _client(registry_server, host=proxy.host, sleep=sleeps.append,
                    progress=events.append) as client:
        report = client.push_layout(layout, REPO, ["2.0.0"])
    assert sorted(kind for kind, _, _ in proxy.injected) == sorted(
        fault.kind for fault in faults for _ in range(fault.times))
    assert report.retries == len(proxy.injected) == 9
    assert sleeps.count(1.0) >= 2  # the 429s' Retry-After: 1
    assert sum(isinstance(e, RequestRetried) for e in events) == 9
    assert report.pushed_blobs == 7 and report.tags_set == ["2.0.0"]
    assert sha256_digest(skopeo(registry_server, f"{REPO}:2.0.0")) == layout.digest
    # every blob landed whole: the registry verified each digest on PUT
    with _client(registry_server) as client:
        assert all(client.blob_exists(REPO, blob.digest) for blob in layout.blobs())


def test_persistent_faults_end_in_a_registry_error(registry_server,
                                                   single_image_layout: Path) -> None:
    layout = OciLayout.open(single_image_layout)
    sleeps: list[float] = []
    with fault_proxy(registry_server.host, [Fault("503", "POST", "/blobs/uploads/", 99)]
                     ) as proxy, _client(registry_server, host=proxy.host, max_retries=2,
                                         sleep=sleeps.append, concurrency=1) as client, \
            pytest.raises(RegistryError, match=r"upload of blob sha256:[a-f0-9]{64} to "
                                               r"gamepulse/api still failed after 3 attempts"):
        client.push_layout(layout, REPO, ["1"])


def test_a_unique_tag_on_another_image_is_never_overwritten(registry_server,
                                                             oci_layout_factory) -> None:
    """A plain registry lets every tag move, as a MUTABLE ECR repository does: the client
    itself refuses to move a version tag another pipeline has set, before any upload."""
    from shipyard.adapters.oci_layout import OciLayout
    from shipyard.adapters.registry import RegistryClient
    from shipyard.errors import ConflictError

    first, second = OciLayout.open(oci_layout_factory()), OciLayout.open(oci_layout_factory())
    with RegistryClient(registry_server.host) as client:
        client.push_layout(first, "race", ["2.0.0"], unique_tags=["2.0.0"])
        with pytest.raises(ConflictError, match=r"race:2\.0\.0 already points at"):
            client.push_layout(second, "race", ["2.0.0", "latest"], unique_tags=["2.0.0"])
        assert client.manifest_digest("race", "2.0.0") == first.digest
        assert client.manifest_digest("race", "latest") is None  # nothing moved
        assert not client.blob_exists("race", second.images[0].layers[-1].digest)
