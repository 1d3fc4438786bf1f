"""Per-build configuration files for buildah, so a build never depends on /etc/containers.

For each build we write, in a private 0700 temporary folder that is removed afterwards:

- `registries.conf`: short names resolve on docker.io, as `docker build` resolves them (the
  system file on Debian has no search registries and aliases some names to quay.io), and the
  loopback registries the request names are marked `insecure` *per host*. Buildah's own
  `--tls-verify=false` would switch off TLS for every registry in the build, docker.io
  included, so we do not use it.
- `auth.json` (0600), when the request carries a registry login: passed with `--authfile`, so
  the password never appears on a command line (`ps`), in a log or in an error message.
- `policy.json`, only when the machine has no `/etc/containers/policy.json`: accept any image,
  which is what the packaged default says. A policy the administrator did install (say, one
  that requires signed base images) is honoured.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shipyard.domain.names import is_loopback_host
from shipyard.errors import UsageError

from .request import RegistryLogin

SYSTEM_POLICY = Path("/etc/containers/policy.json")
_ACCEPT_ANYTHING = {"default": [{"type": "insecureAcceptAnything"}]}


@dataclass(frozen=True)
class BuildahConfig:
    """Paths of the files written for one build."""

    folder: Path
    registries_conf: Path
    registries_dir: Path      # empty: no drop-in from the system or the user can override us
    short_name_aliases: Path  # not created: keeps the user's alias cache out of the build
    authfile: Path | None
    policy: Path | None       # None: the system policy applies

    def global_flags(self) -> list[str]:
        """Flags that go before buildah's subcommand."""
        return [
            "--registries-conf", str(self.registries_conf),
            "--registries-conf-dir", str(self.registries_dir),
            "--short-name-alias-conf", str(self.short_name_aliases),
        ]

    def policy_flags(self) -> list[str]:
        return ["--signature-policy", str(self.policy)] if self.policy else []


def check_insecure_registries(hosts: tuple[str, ...]) -> None:
    """Plain-http registries are allowed only on loopback, where nobody can sit in between."""
    for host in hosts:
        if not is_loopback_host(host):
            raise UsageError(
                f"insecure registry {host!r} is not a loopback address; plain http is allowed "
                "only for localhost/127.0.0.1/[::1] registries, use https for other hosts"
            )


def registries_conf_text(insecure: tuple[str, ...]) -> str:
    lines = [
        "# Written by shipyard for one build (shipyard.adapters.builders.buildah_config).",
        'unqualified-search-registries = ["docker.io"]',
        'short-name-mode = "permissive"',
    ]
    for host in insecure:
        lines += ["", "[[registry]]", f"location = {json.dumps(host)}", "insecure = true"]
    return "\n".join(lines) + "\n"


def auth_json(login: RegistryLogin) -> str:
    return json.dumps({"auths": {login.host: {"auth": login.token()}}})


@contextmanager
def buildah_config(
    login: RegistryLogin | None,
    insecure: tuple[str, ...],
    *,
    system_policy: Path = SYSTEM_POLICY,
) -> Iterator[BuildahConfig]:
    """Write the per-build files, yield their paths, and remove them all afterwards."""
    check_insecure_registries(insecure)
    folder = Path(tempfile.mkdtemp(prefix="shipyard-buildah-"))  # mkdtemp makes it 0700
    try:
        registries_conf = folder / "registries.conf"
        registries_conf.write_text(registries_conf_text(insecure))
        (folder / "registries.conf.d").mkdir()
        authfile = None
        if login is not None:
            authfile = folder / "auth.json"
            # Created 0600 from the start: no moment where another user could read it.
            fd = os.open(authfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(auth_json(login))
        policy = None
        if not system_policy.is_file():
            policy = folder / "policy.json"
            policy.write_text(json.dumps(_ACCEPT_ANYTHING))
        yield BuildahConfig(
            folder=folder,
            registries_conf=registries_conf,
            registries_dir=folder / "registries.conf.d",
            short_name_aliases=folder / "short-name-aliases.conf",
            authfile=authfile,
            policy=policy,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
