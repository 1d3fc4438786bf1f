"""Integration fixtures: a real CNCF distribution registry, and small OCI image layouts.

`registry_server` starts Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with a
free port and its own storage folder, and stops it afterwards; `registry_server_factory`
starts more, with htpasswd basic auth when asked. `oci_layout_factory` writes small but real
OCI layouts (`shipyard_testing.oci_layouts`: gzipped tar layers of random bytes, configs with
correct diff_ids), as a single image or as an index for linux/amd64 + linux/arm64.

The module-level helpers (`running_registry`, `skopeo_inspect`) are for tests that need them
outside a fixture.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import httpx
import pytest

from shipyard_testing.oci_layouts import write_oci_layout

REGISTRY_BINARY = "/usr/bin/docker-registry"
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
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


@pytest.fixture
def oci_layout_factory(tmp_path: Path) -> Callable[..., Path]:
    """make(platforms=("linux/amd64",), **options) -> Path of a fresh layout (options as
    `shipyard_testing.oci_layouts.write_oci_layout`); each call writes new random layers."""
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
