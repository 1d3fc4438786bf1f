"""Real buildah builds (chroot, vfs) into OCI layouts, checked with skopeo as an outside client.

`FROM scratch` + `COPY` needs no base image and no emulation, so both platforms build on any
machine. One buildah storage folder serves the whole session, as a developer's cache would.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from shipyard.adapters.builders import BuildahBuilder, BuildRequest, RegistryLogin
from shipyard.adapters.builders.request import host_arch
from shipyard.errors import AuthError, BuildError

# buildah and skopeo are installed by dev/bootstrap: a machine without them fails these tests
# rather than skipping them.
pytestmark = pytest.mark.integration

EPOCH = 1772600767  # 2026-03-04T05:06:07Z
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONTAINERFILE = """\
FROM scratch
ARG GREETING=unset
COPY hello.txt /hello.txt
LABEL greeting=$GREETING
"""


@pytest.fixture(scope="session")
def builder(tmp_path_factory: pytest.TempPathFactory) -> BuildahBuilder:
    return BuildahBuilder(tmp_path_factory.mktemp("buildah-storage"))


@pytest.fixture
def context(tmp_path: Path) -> Path:
    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / "hello.txt").write_text("hello from shipyard\n")
    (folder / "Containerfile").write_text(CONTAINERFILE)
    return folder


def request_for(context: Path, output: Path, *platforms: str, **extra) -> BuildRequest:
    return BuildRequest(context=context, dockerfile=context / "Containerfile",
                        platforms=platforms, output=output, **extra)


def skopeo(*args: str) -> dict:
    done = subprocess.run(["skopeo", "inspect", *args], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


def test_one_platform_gives_a_single_image(builder, context: Path, tmp_path: Path) -> None:
    out = tmp_path / "image"
    result = builder.build(request_for(
        context, out, "linux/amd64", labels={"org.opencontainers.image.version": "1.2.3"},
        build_args={"GREETING": "hi"}, source_date_epoch=EPOCH))

    assert (result.layout, result.platforms, result.builder) == (out, ("linux/amd64",),
                                                                 "buildah")
    raw = skopeo("--raw", f"oci:{out}")
    assert raw["mediaType"] == MANIFEST  # not an index: see the buildah module docstring
    info = skopeo(f"oci:{out}")
    assert (info["Os"], info["Architecture"]) == ("linux", "amd64")
    assert info["Labels"] == {"org.opencontainers.image.version": "1.2.3", "greeting": "hi"}
    assert info["Created"] == "2026-03-04T05:06:07Z"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image", "svc"]  # no staging left


def test_two_platforms_give_one_index(builder, context: Path, tmp_path: Path) -> None:
    out = tmp_path / "image"
    builder.build(request_for(context, out, "linux/amd64", "linux/arm64",
                              labels={"org.opencontainers.image.revision": "abc123"}))

    raw = skopeo("--raw", f"oci:{out}")
    assert raw["mediaType"] == INDEX
    assert [(m["mediaType"], m["platform"]) for m in raw["manifests"]] == [
        (MANIFEST, {"architecture": "amd64", "os": "linux"}),
        (MANIFEST, {"architecture": "arm64", "os": "linux"}),
    ]
    for arch in ("amd64", "arm64"):
        info = skopeo("--override-os", "linux", "--override-arch", arch, f"oci:{out}")
        assert info["Architecture"] == arch
        assert info["Labels"]["org.opencontainers.image.revision"] == "abc123"
        assert info["Labels"]["greeting"] == "unset"


def test_same_inputs_give_the_same_digests(builder, context: Path, tmp_path: Path) -> None:
    """Another folder, newer file times, a rebuild over the old layout: one digest."""
    copy = tmp_path / "elsewhere" / "svc"
    shutil.copytree(context, copy)
    os.utime(copy / "hello.txt", (EPOCH + 999, EPOCH + 999))
    digests = []
    for ctx, out in ((context, tmp_path / "a"), (copy, tmp_path / "b"), (copy, tmp_path / "b")):
        builder.build(request_for(ctx, out, "linux/amd64", "linux/arm64",
                                  labels={"k": "v"}, source_date_epoch=EPOCH))
        digests.append(json.loads((out / "index.json").read_text())["manifests"][0]["digest"])
    assert digests[0] == digests[1] == digests[2]


def test_our_images_leave_the_cache(builder, context: Path, tmp_path: Path) -> None:
    builder.build(request_for(context, tmp_path / "image", "linux/amd64", "linux/arm64"))
    listed = subprocess.run(
        ["buildah", "--root", str(builder.storage / "root"), "--runroot",
         str(builder.storage / "run"), "--storage-driver", "vfs", "images", "--format",
         "{{.Name}}"], capture_output=True, text=True, check=True).stdout
    assert "shipyard-build" not in listed and "shipyard-list" not in listed


def aarch64_elf() -> bytes:
    """The smallest file the kernel sees as an arm64 Linux executable (ELF, e_machine 183).

    A real arm64 base image's /bin/sh fails the same way on an amd64 machine without qemu.
    """
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, 0x400078, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 120, 120, 0x1000)
    return header + program


@pytest.mark.skipif(
    host_arch() == "arm64" or Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists(),
    reason="this machine can run linux/arm64 binaries (it is arm64, or qemu-aarch64 is "
           "registered in binfmt_misc), so a foreign RUN does not fail here",
)
def test_foreign_run_without_emulation_is_explained(
    builder, context: Path, tmp_path: Path
) -> None:
    (context / "sh").write_bytes(aarch64_elf())
    (context / "sh").chmod(0o755)
    (context / "Containerfile").write_text("FROM scratch\nCOPY sh /bin/sh\nRUN true\n")
    with pytest.raises(BuildError) as caught:
        builder.build(request_for(context, tmp_path / "image", "linux/arm64"))
    assert str(caught.value) == (
        "building linux/arm64 needs to run a linux/arm64 binary (RUN true at Containerfile "
        "line 3) and this machine cannot: install qemu-user-static and binfmt-support "
        "(apt-get install qemu-user-static binfmt-support), or drop RUN instructions for "
        "foreign platforms"
    )
    assert not (tmp_path / "image").exists()


def test_syntax_error_names_the_line(builder, context: Path, tmp_path: Path) -> None:
    (context / "Containerfile").write_text(CONTAINERFILE + "FRUM foo\n")
    with pytest.raises(BuildError) as caught:
        builder.build(request_for(context, tmp_path / "image", "linux/amd64"))
    assert str(caught.value) == (
        'building linux/amd64 failed at Containerfile line 5 (FRUM foo): Unknown instruction: '
        '"FRUM"; fix that instruction and build again'
    )


# --- a base image from a loopback registry with a login -------------------------------------

USER, PASSWORD = "ci", "s3cret-Pa55"


def test_base_image_from_a_loopback_registry_with_login(
    registry_server_factory, context: Path, tmp_path: Path
) -> None:
    """Plain http and basic auth, as the sandbox registry serves base images."""
    registry = registry_server_factory(username=USER, password=PASSWORD).host
    # A base image in the registry, pushed by skopeo as an outside client.
    base = tmp_path / "base"
    builder = BuildahBuilder(tmp_path / "fresh-storage")  # no cached copy of the base image
    builder.build(request_for(context, base, "linux/amd64"))
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds",
                    f"{USER}:{PASSWORD}", f"oci:{base}", f"docker://{registry}/base:1"],
                   check=True)
    (context / "Containerfile").write_text(f"FROM {registry}/base:1\nCOPY hello.txt /two.txt\n")

    wrong = RegistryLogin(USER, "not-the-password", host=registry)
    with pytest.raises(AuthError) as caught:
        builder.build(request_for(context, tmp_path / "image", "linux/amd64",
                                  registry_auth=wrong, insecure_registries=(registry,)))
    assert "unauthorized" in str(caught.value) and "not-the-password" not in str(caught.value)

    right = RegistryLogin(USER, PASSWORD, host=registry)
    builder.build(request_for(context, tmp_path / "image", "linux/amd64",
                              registry_auth=right, insecure_registries=(registry,)))
    assert len(skopeo(f"oci:{tmp_path / 'image'}")["Layers"]) == 2  # base layer + our COPY
