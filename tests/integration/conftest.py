"""Integration fixtures: a real CNCF distribution registry, and small OCI image layouts.

`registry_server` starts Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with a
free port and its own storage folder, and stops it afterwards; `registry_server_factory`
starts more, with htpasswd basic auth when asked. `oci_layout_factory` writes small but real
OCI layouts (gzipped tar layers of random bytes, configs with correct diff_ids), as a single
image or as an index for linux/amd64 + linux/arm64.

The module-level helpers (`running_registry`, `write_oci_layout`, `skopeo_inspect`) are for
tests that need them outside a fixture.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import httpx
import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
TWO_PLATFORMS = ("linux/amd64", "linux/arm64")


# --- the registry ----------------------------------------------------------------------------


@dataclass
class RegistryServer:
    """A running registry: `host` is "127.0.0.1:PORT", `url` is "http://127.0.0.1:PORT"."""

    host: str
    url: str
    storage_dir: Path
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def auth(self) -> tuple[str, str] | None:
        """(username, password) for RegistryClient(auth=...), or None when anonymous."""
        if self.username is None or self.password is None:
            return None
        return self.username, self.password

    def skopeo_creds(self) -> list[str]:
        """The skopeo flags that reach this registry: no TLS, and credentials if any."""
        flags = ["--tls-verify=false"]
        if self.auth:
            flags.append(f"--creds={self.username}:{self.password}")
        return flags

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _registry_config(storage: Path, port: int, htpasswd: Path | None) -> str:
    auth = (f"auth:\n  htpasswd:\n    realm: shipyard-test\n    path: {htpasswd}\n"
            if htpasswd else "")
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {storage}\n"
        "  delete:\n    enabled: true\n"
        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        "http:\n"
        f"  addr: 127.0.0.1:{port}\n"
        f"  secret: {secrets.token_hex(16)}\n"
        "  headers:\n    X-Content-Type-Options: [nosniff]\n"
        + auth
    )


@contextmanager
def running_registry(workdir: Path, *, username: str | None = None,
                     password: str | None = None) -> Iterator[RegistryServer]:
    """Run `docker-registry serve` in `workdir` until the block ends.

    With a username and password, the registry requires htpasswd basic auth (bcrypt).
    """
    if not os.access(REGISTRY_BINARY, os.X_OK):
        pytest.fail(f"{REGISTRY_BINARY} is not installed; run dev/bootstrap "
                    "(apt-get install docker-registry)")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    htpasswd = None
    if username is not None and password is not None:
        htpasswd = workdir / "htpasswd"
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        htpasswd.write_text(f"{username}:{hashed}\n")
    log_path = workdir / "registry.log"
    for _ in range(5):  # another process may grab the port between probe and bind
        port = free_port()
        config = workdir / "config.yml"
        config.write_text(_registry_config(storage, port, htpasswd))
        with log_path.open("ab") as log:
            process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)],
                                       stdout=log, stderr=subprocess.STDOUT)
        server = RegistryServer(host=f"127.0.0.1:{port}", url=f"http://127.0.0.1:{port}",
                                storage_dir=storage, username=username, password=password,
                                log_path=log_path)
        if _wait_until_up(server, process):
            break
        _stop(process)
    else:
        raise RuntimeError(f"docker-registry did not start:\n{server.log_tail()}")
    try:
        yield server
    finally:
        _stop(process)


def _wait_until_up(server: RegistryServer, process: subprocess.Popen, timeout: float = 15.0
                   ) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            answer = httpx.get(f"{server.url}/v2/", timeout=1.0, trust_env=False)
            if answer.status_code in (200, 401):
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An anonymous registry of its own for one test."""
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture(scope="module")
def module_registry_server(tmp_path_factory: pytest.TempPathFactory
                           ) -> Iterator[RegistryServer]:
    """An anonymous registry shared by the tests of one module (use distinct repositories)."""
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture
def registry_server_factory(tmp_path_factory: pytest.TempPathFactory
                            ) -> Iterator[Callable[..., RegistryServer]]:
    """start(username=None, password=None) -> RegistryServer; all stopped after the test."""
    with ExitStack() as stack:

        def start(username: str | None = None, password: str | None = None) -> RegistryServer:
            workdir = tmp_path_factory.mktemp("registry")
            return stack.enter_context(
                running_registry(workdir, username=username, password=password))

        yield start


@pytest.fixture
def auth_registry_server(registry_server_factory: Callable[..., RegistryServer]
                         ) -> RegistryServer:
    """A registry that requires basic auth; its `.username` and `.password` are accepted."""
    return registry_server_factory(username="shipyard", password=secrets.token_urlsafe(12))


# --- OCI layouts ---------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put_blob(layout: Path, data: bytes) -> dict:
    digest = _digest(data)
    path = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _random_layer(size: int) -> tuple[bytes, str]:
    """A gzipped tar holding one file of random bytes: (compressed, diff_id)."""
    payload = os.urandom(size)
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"data/{secrets.token_hex(4)}.bin")
        info.size, info.mode, info.mtime = len(payload), 0o644, 1_700_000_000
        tar.addfile(info, io.BytesIO(payload))
    raw = tar_bytes.getvalue()
    return gzip.compress(raw, mtime=0), _digest(raw)


def _platform_json(platform: str) -> dict:
    os_name, architecture, *variant = platform.split("/")
    return {"architecture": architecture, "os": os_name,
            **({"variant": variant[0]} if variant else {})}


def write_oci_layout(path: Path, platforms: Sequence[str] = ("linux/amd64",), *,
                     index: bool | None = None, layers: int = 2, layer_bytes: int = 4096,
                     ref_name: str | None = "latest") -> Path:
    """Write an OCI layout at `path` and return it.

    One image per platform, each with `layers` random layers after a base layer shared by
    all platforms (so pushes must deduplicate). With one platform and `index` unset the
    top-level manifest is the image manifest; otherwise an image index of the platforms.
    """
    path.mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    base, base_diff = _random_layer(layer_bytes)
    base_descriptor = {"mediaType": OCI_LAYER_GZIP, **_put_blob(path, base)}
    children = []
    for platform in platforms:
        layer_descriptors, diff_ids = [base_descriptor], [base_diff]
        for _ in range(layers):
            blob, diff_id = _random_layer(layer_bytes)
            layer_descriptors.append({"mediaType": OCI_LAYER_GZIP, **_put_blob(path, blob)})
            diff_ids.append(diff_id)
        config = {**_platform_json(platform), "created": "2026-03-04T05:06:07Z",
                  "config": {"Cmd": ["/bin/true"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        config_descriptor = {"mediaType": OCI_CONFIG,
                             **_put_blob(path, json.dumps(config).encode())}
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_descriptor,
                    "layers": layer_descriptors}
        children.append({"mediaType": OCI_MANIFEST,
                         **_put_blob(path, json.dumps(manifest).encode()),
                         "platform": _platform_json(platform)})
    if index is None:
        index = len(platforms) > 1
    if index:
        top_json = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
        top = {"mediaType": OCI_INDEX, **_put_blob(path, json.dumps(top_json).encode())}
    else:
        top = {key: value for key, value in children[0].items() if key != "platform"}
    if ref_name:
        top["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return path


@pytest.fixture
def oci_layout_factory(tmp_path: Path) -> Callable[..., Path]:
    """make(platforms=("linux/amd64",), **options) -> Path of a fresh layout (see
    `write_oci_layout`); each call writes new random layers."""
    count = 0

    def make(platforms: Sequence[str] = ("linux/amd64",), **options: object) -> Path:
        nonlocal count
        count += 1
        return write_oci_layout(tmp_path / f"layout-{count}", platforms, **options)

    return make


@pytest.fixture
def single_image_layout(oci_layout_factory: Callable[..., Path]) -> Path:
    """A layout whose top-level manifest is one linux/amd64 image manifest."""
    return oci_layout_factory(("linux/amd64",))


@pytest.fixture
def two_platform_layout(oci_layout_factory: Callable[..., Path]) -> Path:
    """A layout whose top-level manifest is an index of linux/amd64 and linux/arm64."""
    return oci_layout_factory(TWO_PLATFORMS)


# --- skopeo, the independent client ----------------------------------------------------------


def skopeo_inspect(server: RegistryServer, reference: str, *extra: str, raw: bool = True
                   ) -> bytes:
    """`skopeo inspect [--raw] docker://HOST/<reference>` against `server`; stdout bytes."""
    if not shutil.which(SKOPEO):
        pytest.fail("skopeo is not installed; run dev/bootstrap (apt-get install skopeo)")
    command = [SKOPEO, "inspect", *server.skopeo_creds(), *extra,
               *(["--raw"] if raw else []), f"docker://{server.host}/{reference}"]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False,
                          env={**os.environ, "HOME": str(server.storage_dir.parent)})
    if done.returncode != 0:
        raise AssertionError(f"skopeo inspect {reference} failed: "
                             f"{done.stderr.decode(errors='replace')}")
    return done.stdout


@pytest.fixture
def skopeo() -> Callable[..., bytes]:
    """skopeo(server, "repo:tag", *flags, raw=True) -> stdout of `skopeo inspect`."""
    return skopeo_inspect
