"""Images pulled from the sandbox registry by digest and unpacked for the host's platform."""

from __future__ import annotations

import stat

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


def test_a_digest_the_registry_lacks_is_an_error(busybox_images, image_store) -> None:
    with pytest.raises(ImageError, match="404"):
        image_store.pull(busybox_images.repository, "sha256:" + "0" * 64)
