"""Images pulled from the sandbox registry by digest and unpacked for the host's platform."""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest

from shipyard_sandbox.runtime.images import ImageError, PlatformMismatch, host_platform

pytestmark = pytest.mark.integration


def test_single_platform_image_unpacks_with_whiteouts_modes_and_owners(busybox_images,
                                                                       image_store) -> None:
    image = image_store.pull(busybox_images.repository, busybox_images.single)
    root = image.rootfs
    assert image.digest == busybox_images.single and image.index_digest is None
    assert image.platform == host_platform()
    assert image.config["Env"] == ["PATH=/bin", "APP_VERSION=1.4.2", "GREETING=from-image"]
    assert (root / "bin/busybox").read_bytes()[:4] == b"\x7fELF"
    assert (root / "bin/sh").readlink().as_posix() == "busybox"
    assert not (root / "etc/motd").exists()  # deleted by the second layer's whiteout
    assert (root / "www/version.txt").read_text() == "1.4.2\n"
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((root / "bin/busybox").stat().st_mode) == 0o755
    home = (root / "home/app").stat()
    assert (home.st_uid, home.st_gid, stat.S_IMODE(home.st_mode)) == (1000, 1000, 0o750)


def test_an_image_is_unpacked_once_per_digest(busybox_images, image_store) -> None:
    first = image_store.pull(busybox_images.repository, busybox_images.single)
    marker = first.rootfs / "www" / "cached-marker"
    marker.write_text("kept")
    try:
        again = image_store.pull(busybox_images.repository, busybox_images.single)
        assert again.rootfs == first.rootfs and (again.rootfs / "www/cached-marker").exists()
    finally:
        marker.unlink()


def test_an_index_runs_the_host_variant_and_says_so(busybox_images, image_store) -> None:
    image = image_store.pull(busybox_images.repository, busybox_images.index)
    assert image.index_digest == busybox_images.index
    assert image.digest != busybox_images.index
    assert image.platform == host_platform()
    # Same layers and config as the single image: the same rootfs content.
    assert (image.rootfs / "bin/busybox").read_bytes()[:4] == b"\x7fELF"


def test_an_index_without_the_host_platform_fails_naming_what_it_has(busybox_images,
                                                                     image_store) -> None:
    with pytest.raises(PlatformMismatch) as failure:
        image_store.pull(busybox_images.repository, busybox_images.foreign_index)
    message = str(failure.value)
    assert host_platform() in message
    for platform in busybox_images.foreign_platforms:
        assert platform in message
    assert not any(image_store.cache_dir.glob(f"*{busybox_images.foreign_index[7:]}*"))


def test_a_tag_resolves_to_the_digest_of_what_it_names_now(busybox_images,
                                                         image_store) -> None:
    assert image_store.resolve(busybox_images.repository, "single") == busybox_images.single
    assert image_store.resolve(busybox_images.repository, "index") == busybox_images.index
    with pytest.raises(ImageError, match="404"):
        image_store.resolve(busybox_images.repository, "no-such-tag")


def test_a_digest_the_registry_lacks_is_an_error(busybox_images, image_store) -> None:
    with pytest.raises(ImageError, match="404"):
        image_store.pull(busybox_images.repository, "sha256:" + "0" * 64)


# --- checks, on a registry of the test's own whose storage it can reach ---------------------


@pytest.fixture
def own_registry(module_registry_server, busybox_layers, oci, tmp_path):
    """(push, store, server): push(name, platform=host, layers=busybox) -> digest of an image
    pushed to a registry whose storage folder the test reaches; store(storage=None) -> an
    ImageStore on it with a cache of its own, reading blobs from `storage` when given."""
    from shipyard.adapters.oci_layout import OciLayout
    from shipyard.adapters.registry import RegistryClient
    from shipyard_sandbox.runtime.images import ImageStore

    stores: list[ImageStore] = []

    def push(name: str, platform: str | None = None, layers=None) -> str:
        layout = tmp_path / name
        image = oci.write_image(layout, platform or host_platform(), layers or busybox_layers)
        oci.write_layout(layout, [image], as_index=False)
        with RegistryClient(module_registry_server.host) as client:
            return client.push_layout(OciLayout.open(layout), f"checks/{name}", ["t"]).digest

    def store(storage: Path | None = None) -> ImageStore:
        stores.append(ImageStore(module_registry_server.url, tmp_path / f"cache{len(stores)}",
                                 storage_dir=storage))
        return stores[-1]

    yield push, store, module_registry_server
    for opened in stores:
        opened.close()


def test_a_layer_blob_other_than_its_digest_is_refused(own_registry, busybox_layers, oci,
                                                       tmp_path) -> None:
    push, store, server = own_registry
    # A top layer of this test's own: the registry is shared, and its blob gets replaced.
    own = oci.layer_of(lambda tar: oci.tar_entry(tar, "www/version.txt", data=b"1.4.2\n",
                                                 mode=0o640))
    digest = push("tampered", layers=[busybox_layers[0], own])
    top = oci.sha256(own.blob)
    # Another valid layer in the place of the top one: only its digest tells them apart.
    other = oci.layer_of(lambda tar: oci.tar_entry(tar, "www/version.txt", data=b"6.6.6\n"))
    copy = tmp_path / "storage-copy"
    shutil.copytree(server.storage_dir, copy)
    blob_path(copy, top).write_bytes(other.blob)
    mismatch = f"has digest {oci.sha256(other.blob)}, not {top} as its manifest says"
    from_copy = store(copy)
    with pytest.raises(ImageError, match=re.escape(mismatch)):
        from_copy.pull("checks/tampered", digest)
    assert not any(from_copy.cache_dir.rglob("rootfs*"))
    # The registry's own storage is intact: over HTTP the same image pulls.
    assert (store().pull("checks/tampered", digest).rootfs / "www/version.txt").read_text() \
        == "1.4.2\n"
    blob_path(server.storage_dir, top).write_bytes(other.blob)  # now the registry serves it
    with pytest.raises(ImageError, match=re.escape(mismatch)):
        store().pull("checks/tampered", digest)


def test_a_layer_unpacking_to_another_diff_id_is_refused(own_registry, busybox_layers,
                                                         oci) -> None:
    push, store, _ = own_registry
    wrong = oci.Layer(busybox_layers[1].blob, oci.sha256(b"something else"))
    digest = push("wrong-diff-id", layers=[busybox_layers[0], wrong])
    with pytest.raises(ImageError, match="not the diff_id"):
        store().pull("checks/wrong-diff-id", digest)


def test_a_single_image_of_another_platform_is_refused(own_registry) -> None:
    push, store, _ = own_registry
    foreign = "linux/arm64" if host_platform() != "linux/arm64" else "linux/amd64"
    digest = push("foreign", platform=foreign)
    with pytest.raises(PlatformMismatch, match=f"is for {foreign}; this host runs "
                                               f"{host_platform()} only"):
        store().pull("checks/foreign", digest)


def blob_path(storage: Path, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    return storage / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"
