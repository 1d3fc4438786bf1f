"""Integration fixtures: a real CNCF distribution registry, and small OCI image layouts.

`registry_server` starts Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with a
free port and its own storage folder, and stops it afterwards; `registry_server_factory`
starts more, with htpasswd basic auth when asked. They use the sandbox's own launcher
(`shipyard_sandbox.registry`), so tests run the registry configured as the sandbox runs it.
`oci_layout_factory` writes small but real OCI layouts (`shipyard_testing.oci_layouts`:
gzipped tar layers of random bytes, configs with correct diff_ids), as a single image or as an
index for linux/amd64 + linux/arm64.

`skopeo_inspect` is for tests that need it outside a fixture.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from shipyard_sandbox.provision import ProvisionReport
from shipyard_sandbox.registry import RegistryProcess, RegistryStartError
from shipyard_testing.gamepulse_infra import SandboxAws, gamepulse_provisioned
from shipyard_testing.oci_layouts import write_oci_layout

SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
TWO_PLATFORMS = ("linux/amd64", "linux/arm64")


# --- the registry ----------------------------------------------------------------------------


class RegistryServer(RegistryProcess):
    """A running registry: `host` is "127.0.0.1:PORT", `url` is "http://127.0.0.1:PORT"."""

    @property
    def host(self) -> str:
        return self.address

    def skopeo_creds(self) -> list[str]:
        """The skopeo flags that reach this registry: no TLS, and credentials if any."""
        flags = ["--tls-verify=false"]
        if self.auth:
            flags.append(f"--creds={self.username}:{self.password}")
        return flags


@contextmanager
def running_registry(workdir: Path, *, username: str = "shipyard",
                     password: str | None = None) -> Iterator[RegistryServer]:
    """Run `docker-registry` in `workdir` until the block ends; with a password, it requires
    htpasswd basic auth as `username`. A registry that cannot start fails the test."""
    server = RegistryServer(workdir, password=password, username=username)
    try:
        server.start()
    except RegistryStartError as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()


# Libraries under Shipyard whose DEBUG logs hold signed headers and answers' bodies.
LOUD_LIBRARIES = ("botocore", "boto3", "urllib3", "httpx", "httpcore")


@pytest.fixture
def loud_libraries() -> Iterator[None]:
    """Those libraries at DEBUG for one test: the hard case for secrets in logs."""
    levels = {name: logging.getLogger(name).level for name in LOUD_LIBRARIES}
    for name in LOUD_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


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
    """start(username="shipyard", password=None) -> RegistryServer; all stopped after the
    test."""
    with ExitStack() as stack:

        def start(username: str = "shipyard", password: str | None = None) -> RegistryServer:
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
                          env={**os.environ, "HOME": str(server.root)})
    if done.returncode != 0:
        raise AssertionError(f"skopeo inspect {reference} failed: "
                             f"{done.stderr.decode(errors='replace')}")
    return done.stdout


@pytest.fixture
def skopeo() -> Callable[..., bytes]:
    """skopeo(server, "repo:tag", *flags, raw=True) -> stdout of `skopeo inspect`."""
    return skopeo_inspect


# --- GamePulse's infrastructure in the session sandbox -----------------------------------------


@pytest.fixture(scope="module")
def aws(sandbox: dict[str, str]) -> SandboxAws:
    """boto3 clients on the session sandbox (`aws("ecs")`)."""
    return SandboxAws(sandbox)


@pytest.fixture(scope="module")
def provisioned(sandbox: dict[str, str]) -> Iterator[ProvisionReport]:
    """GamePulse/infra/gamepulse.yaml provisioned in the session sandbox (idempotent)."""
    with gamepulse_provisioned(sandbox, "octo-org/gamepulse") as report:
        yield report
