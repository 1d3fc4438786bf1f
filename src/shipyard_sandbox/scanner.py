"""Vulnerability findings for an image from the Debian packages it contains.

A small real scanner: it reads the image's layers from the registry, finds the dpkg database
(`var/lib/dpkg/status`, and distroless-style `var/lib/dpkg/status.d/*`), and matches each
installed package against the sample advisories in `advisories.json` with dpkg's own version
order (`dpkg --compare-versions`). Results are cached per image digest, as a scan result is.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

ADVISORIES = Path(__file__).with_name("advisories.json")
STATUS_PATHS = ("var/lib/dpkg/status",)
STATUS_DIR = "var/lib/dpkg/status.d/"


def load_advisories(path: Path = ADVISORIES) -> list[dict[str, str]]:
    return json.loads(path.read_text())["advisories"]


def parse_dpkg_status(text: str) -> dict[str, str]:
    """Installed packages as name -> version from a dpkg status file."""
    packages: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(" "):
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        status = fields.get("Status", "install ok installed")
        if "Package" in fields and "Version" in fields and status.endswith("installed"):
            packages[fields["Package"]] = fields["Version"]
    return packages


def version_lower(installed: str, fixed: str) -> bool:
    """dpkg's version order, from dpkg itself."""
    done = subprocess.run(["dpkg", "--compare-versions", installed, "lt", fixed], check=False)
    return done.returncode == 0


def packages_in_layers(layers: Iterator[IO[bytes]]) -> dict[str, str]:
    """Packages from the dpkg databases in layers applied in order (later layers win)."""
    packages: dict[str, str] = {}
    for stream in layers:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if not member.isfile():
                    continue
                if name in STATUS_PATHS:
                    # A later layer's status file replaces the earlier one wholesale.
                    packages = parse_dpkg_status(_read(tar, member))
                elif name.startswith(STATUS_DIR):
                    packages.update(parse_dpkg_status(_read(tar, member)))
    return packages


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    handle = tar.extractfile(member)
    return handle.read().decode("utf-8", "replace") if handle else ""


def findings(packages: dict[str, str], advisories: list[dict[str, str]]) -> list[dict[str, Any]]:
    """ECR basic-scan findings for the installed packages."""
    found = []
    for advisory in advisories:
        version = packages.get(advisory["package"])
        if version is not None and version_lower(version, advisory["fixed"]):
            found.append({
                "name": advisory["id"],
                "description": advisory["description"],
                "uri": f"https://sandbox.shipyard.invalid/advisories/{advisory['id']}",
                "severity": advisory["severity"],
                "attributes": [
                    {"key": "package_name", "value": advisory["package"]},
                    {"key": "package_version", "value": version},
                    {"key": "fixed_version", "value": advisory["fixed"]},
                ],
            })
    return found


class Scanner:
    """Scans images in the registry; `layers_of(repo, digest)` yields layer streams."""

    def __init__(self, layers_of: Callable[[str, str], Iterator[IO[bytes]]]) -> None:
        self.layers_of = layers_of
        self.advisories = load_advisories()
        self._cache: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def findings_for(self, repository: str, digest: str) -> list[dict[str, Any]]:
        with self._lock:
            if digest not in self._cache:
                packages = packages_in_layers(self.layers_of(repository, digest))
                self._cache[digest] = findings(packages, self.advisories)
            return self._cache[digest]
