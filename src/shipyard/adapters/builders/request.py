"""What a builder is asked to build and what it hands back; the `Builder` protocol both follow.

Platforms are checked once (`parse_platforms`, from the domain) so each builder can trust
them, and the host's own platform and its binfmt emulators are looked up here, because both
builders need them to explain a failed cross-platform `RUN`.
"""

from __future__ import annotations

import platform as _platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from shipyard.adapters.credentials import RegistryLogin
from shipyard.errors import ShipyardError

_EMPTY: Mapping[str, str] = MappingProxyType({})

# `uname -m` names to OCI architecture names.
_MACHINE_TO_ARCH = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
    "armv7l": "arm", "armv6l": "arm", "i386": "386", "i686": "386",
    "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}
# OCI architecture names to the names qemu-user-static registers under binfmt_misc.
_ARCH_TO_QEMU = {
    "amd64": "x86_64", "arm64": "aarch64", "arm": "arm", "386": "i386",
    "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


@dataclass(frozen=True)
class BuildRequest:
    """One image build: a context and Dockerfile, built for each platform into one OCI layout."""

    context: Path
    dockerfile: Path
    platforms: tuple[str, ...]
    output: Path
    build_args: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    source_date_epoch: int | None = None
    registry_auth: RegistryLogin | None = None
    insecure_registries: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildResult:
    """An OCI image layout on disk: an index when several platforms, else a single image."""

    layout: Path
    platforms: tuple[str, ...]
    builder: str


@runtime_checkable
class Builder(Protocol):
    """Something that turns a `BuildRequest` into an OCI image layout."""

    name: str

    def available(self) -> bool: ...

    def build(self, request: BuildRequest) -> BuildResult: ...


def host_arch() -> str:
    """This machine's architecture in OCI terms (`amd64`, `arm64`)."""
    machine = _platform.machine().lower()
    return _MACHINE_TO_ARCH.get(machine, machine)


def emulator_registered(arch: str, binfmt_dir: Path = BINFMT_DIR) -> bool:
    """True when a qemu binfmt handler for `arch` is registered with the kernel."""
    name = _ARCH_TO_QEMU.get(arch, arch)
    return (binfmt_dir / f"qemu-{name}").exists()


def redacted(error: ShipyardError, request: BuildRequest) -> ShipyardError:
    """The same error with the registry password masked, should a tool ever echo it."""
    login = request.registry_auth
    if login is not None and login.password and login.password in error.message:
        return type(error)(error.message.replace(login.password, "***"))
    return error
