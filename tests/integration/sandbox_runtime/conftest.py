"""Fixtures for the sandbox's task runtime: a tiny real image built from Debian's busybox.

`busybox_images` (once per session) builds an image whose base layer holds the host's
statically linked /bin/busybox (package busybox-static), applet links, /etc/passwd and
/etc/group, and whose second layer deletes /etc/motd with a whiteout, and pushes it to the
session's sandbox registry three ways: as a single-platform image, as an index with the host's
variant and a foreign one, and as an index with foreign variants only. `image_store` pulls
from that registry into a session cache, so each image is unpacked once.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import BasicAuth, RegistryClient
from shipyard_sandbox.runtime.images import ImageStore, host_platform
from shipyard_testing.oci_layouts import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    REF_NAME,
    Layer,
    platform_json,
    put_blob,
    sha256,
)

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "httpd", "sleep", "cat", "env", "id", "pwd", "ls", "ps", "test", "echo",
           "true", "false", "mkdir", "touch", "wget", "kill", "stat")
PASSWD = (b"root:x:0:0:root:/root:/bin/sh\n"
          b"app:x:1000:1000:app:/home/app:/bin/sh\n"
          b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = b"root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n"
IMAGE_ENV = ["PATH=/bin", "APP_VERSION=1.4.2", "GREETING=from-image"]
IMAGE_CONFIG = {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo image-cmd $APP_VERSION"],
                "Env": IMAGE_ENV, "User": "app", "WorkingDir": "/home/app"}
FOREIGN = {"linux/amd64": "linux/arm64", "linux/arm64": "linux/amd64"}


@dataclass(frozen=True)
class BusyboxImages:
    repository: str
    single: str  # digest of the host-platform image
    index: str  # digest of an index: the host's variant and a foreign one
    foreign_index: str  # digest of an index without the host's platform
    foreign_platforms: tuple[str, ...]


def tar_entry(tar: tarfile.TarFile, name: str, *, data: bytes | None = None, mode: int = 0o644,
              kind: bytes = tarfile.REGTYPE, link: str = "", uid: int = 0, gid: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, gid, 1_700_000_000
    info.linkname = link
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def layer_of(build) -> Layer:
    """A gzipped layer whose tar `build(tar)` writes."""
    import gzip

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    return Layer(gzip.compress(raw.getvalue(), compresslevel=1, mtime=0), sha256(raw.getvalue()))


def base_layer(tar: tarfile.TarFile) -> None:
    directory = tarfile.DIRTYPE
    for folder, mode, owner in (("bin", 0o755, 0), ("etc", 0o755, 0), ("tmp", 0o1777, 0),
                                ("home", 0o755, 0), ("home/app", 0o750, 1000), ("www", 0o755, 0),
                                ("root", 0o700, 0)):
        tar_entry(tar, folder, kind=directory, mode=mode, uid=owner, gid=owner)
    tar_entry(tar, "bin/busybox", data=BUSYBOX.read_bytes(), mode=0o755)
    for applet in APPLETS:
        tar_entry(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox", mode=0o777)
    tar_entry(tar, "etc/passwd", data=PASSWD)
    tar_entry(tar, "etc/group", data=GROUP)
    tar_entry(tar, "etc/motd", data=b"deleted by the next layer\n")
    tar_entry(tar, "www/index.html", data=b"hello from busybox\n")


def top_layer(tar: tarfile.TarFile) -> None:
    tar_entry(tar, "etc/.wh.motd")
    tar_entry(tar, "www/version.txt", data=b"1.4.2\n")


def write_image(layout: Path, platform: str, layers: list[Layer]) -> dict:
    """Store one image of `layers` for `platform` in `layout`; its descriptor."""
    descriptors = [{"mediaType": OCI_LAYER_GZIP, **put_blob(layout, layer.blob)}
                   for layer in layers]
    config = {**platform_json(platform), "created": "2026-03-04T05:06:07Z",
              "config": IMAGE_CONFIG,
              "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}}
    config_blob = put_blob(layout, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **config_blob}, "layers": descriptors}
    return {"mediaType": OCI_MANIFEST, **put_blob(layout, json.dumps(manifest).encode()),
            "platform": platform_json(platform)}


def write_layout(layout: Path, images: list[dict], as_index: bool) -> Path:
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    if as_index:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": images}
        top = {"mediaType": OCI_INDEX, **put_blob(layout, json.dumps(index).encode())}
    else:
        top = {key: value for key, value in images[0].items() if key != "platform"}
    top["annotations"] = {REF_NAME: "latest"}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return layout


@pytest.fixture(scope="session")
def registry_login(sandbox: dict[str, str]) -> BasicAuth:
    import boto3

    ecr = boto3.client("ecr", region_name=sandbox["AWS_REGION"],
                       endpoint_url=sandbox["AWS_ENDPOINT_URL"],
                       aws_access_key_id=sandbox["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=sandbox["AWS_SECRET_ACCESS_KEY"])
    ecr.create_repository(repositoryName="runtime/busybox")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    return BasicAuth(user, password)


@pytest.fixture(scope="session")
def oci():
    """This module's image writers, for tests that make images of their own:
    oci.write_image, oci.write_layout, oci.layer_of, oci.tar_entry, oci.Layer, oci.sha256."""
    from types import SimpleNamespace

    return SimpleNamespace(write_image=write_image, write_layout=write_layout,
                           layer_of=layer_of, tar_entry=tar_entry, Layer=Layer, sha256=sha256)


@pytest.fixture(scope="session")
def busybox_layers() -> list[Layer]:
    """The busybox image's two layers, built once."""
    if not BUSYBOX.is_file():
        pytest.fail("/bin/busybox is missing; install busybox-static (dev/bootstrap does)")
    return [layer_of(base_layer), layer_of(top_layer)]


@pytest.fixture(scope="session")
def busybox_images(sandbox: dict[str, str], registry_login: BasicAuth, busybox_layers,
                   tmp_path_factory: pytest.TempPathFactory) -> BusyboxImages:
    root = tmp_path_factory.mktemp("busybox-layouts")
    host = host_platform()
    foreign = FOREIGN.get(host, "linux/arm64")
    pushed = {}
    with RegistryClient(sandbox["SHIPYARD_REGISTRY"], auth=registry_login) as client:
        for name, platforms in (("single", [host]), ("index", [host, foreign]),
                                ("foreign", [foreign, "linux/s390x"])):
            layout = root / name
            images = [write_image(layout, platform, busybox_layers) for platform in platforms]
            write_layout(layout, images, as_index=name != "single")
            pushed[name] = client.push_layout(OciLayout.open(layout), "runtime/busybox",
                                              [name]).digest
    return BusyboxImages("runtime/busybox", pushed["single"], pushed["index"],
                         pushed["foreign"], (foreign, "linux/s390x"))


@pytest.fixture(scope="session")
def image_store(sandbox: dict[str, str], registry_login: BasicAuth,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageStore]:
    cache = tmp_path_factory.mktemp("runtime-images")
    with ImageStore(f"http://{sandbox['SHIPYARD_REGISTRY']}", cache,
                    auth=(registry_login.username, registry_login.password)) as store:
        yield store
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture
def task_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder for one test's tasks (their writable layers and sockets)."""
    return tmp_path_factory.mktemp("tasks")


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the task runtime needs root (namespaces, mounts, chroot)")


@pytest.fixture
def tar_of():
    """tar_of(("name", {options of tar_entry}), ...) -> an uncompressed layer tar stream."""

    def build(*entries: tuple[str, dict]) -> io.BytesIO:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, options in entries:
                tar_entry(tar, name, **options)
        raw.seek(0)
        return raw

    return build


@dataclass
class Running:
    """A started container and the lines it printed so far: [(stream, line)]."""

    container: object
    lines: list[tuple[str, str]]

    def out(self, stream: str = "stdout") -> list[str]:
        return [line for name, line in self.lines if name == stream]


@pytest.fixture
def busybox(busybox_images, image_store):
    """The pulled single-platform busybox image."""
    return image_store.pull(busybox_images.repository, busybox_images.single)


@pytest.fixture
def run_container(busybox, task_dir: Path) -> Iterator:
    """run(definition, image=busybox, network=None, volumes=None) -> Running, started (in the
    network namespace of the process `network` when given; `volumes` maps the task's volume
    names to host folders); every one is stopped after the
    test (a short stop timeout: httpd, as PID 1, ignores SIGTERM)."""
    from shipyard_sandbox.runtime import launch
    from shipyard_sandbox.runtime.process import Container

    require_root()
    started: list[Container] = []

    def run(definition: dict, image=None, network: int | None = None,
            volumes: dict[str, Path] | None = None) -> Running:
        lines: list[tuple[str, str]] = []
        plan = launch.plan(image or busybox, {"name": "app", **definition}, volumes)
        container = Container(plan, task_dir / f"c{len(started)}",
                              lambda stream, line: lines.append((stream, line)),
                              network=network)
        started.append(container)
        container.start()
        return Running(container, lines)

    yield run
    for container in started:
        if container._process is not None:
            container.stop(timeout=0.2)
