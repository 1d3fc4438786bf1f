"""Builds with `docker buildx` (BuildKit), for machines with a Docker engine.

NOT exercised against a real engine: the machine this was written on has the docker CLI but
no engine and no buildx plugin. Unit tests cover the command line, the temporary Docker
config for registry logins, the error translation and the unpacking of the OCI archive.

The command::

    docker buildx build --progress plain --platform P1,P2
        --output type=oci,dest=TMP/image.tar[,rewrite-timestamp=true]
        --provenance=false --sbom=false
        --build-arg SOURCE_DATE_EPOCH=... --build-arg K=V --label K=V
        --file DOCKERFILE CONTEXT

- `type=oci` writes a tar of an OCI layout; we unpack it into the output folder (staged, then
  swapped in). buildx gives a plain image manifest for one platform and an index for several,
  the same shapes as our buildah builder.
- `--provenance=false --sbom=false`: attestations are extra index entries with platform
  `unknown/unknown`, which are not images and trip registries, scanners and our pusher.
- `SOURCE_DATE_EPOCH` (env and build argument) makes BuildKit stamp the config and history;
  `rewrite-timestamp=true` (BuildKit >= 0.13) also clamps file times inside the layers.
- A multi-platform OCI export needs a builder with the docker-container driver (or the
  containerd image store); the plain docker driver refuses, and we say how to fix that.
- Plain-http registries cannot be chosen per build: BuildKit takes them from its own
  buildkitd.toml, and the Docker engine treats 127.0.0.0/8 as insecure already. So
  `insecure_registries` is not passed on.
- A registry login is given through a temporary `DOCKER_CONFIG` (0700 folder, 0600 file,
  removed afterwards) that copies the user's config and adds the login, so the password never
  reaches the command line. It links the user's `buildx`, `contexts` and `cli-plugins`
  folders so the chosen builder and the plugin are still found.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from shipyard.domain.platforms import Platform, parse_platforms
from shipyard.errors import AuthError, BuildError, ShipyardError

from .buildah_errors import foreign_binary_error
from .layout import check_inputs, staged_layout, unpack_oci_tar
from .request import BuildRequest, BuildResult, RegistryLogin, host_arch, redacted
from .runner import CommandRunner, run_command

INSTALL_HINT = (
    "install Docker Engine with the buildx plugin (apt-get install docker.io docker-buildx) "
    "and start it, or build with buildah"
)
_LINKED = ("buildx", "contexts", "cli-plugins")
_VERTEX = re.compile(r"^#(?P<id>\d+) ")
_HEADER = re.compile(r"^#(?P<id>\d+) \[(?P<platform>[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?) ")
_SNIPPET = re.compile(r"^\s*(?P<line>\d+) \| >>> (?P<text>.*)$")


class DockerBuildxBuilder:
    """Builds OCI layouts with `docker buildx build`; see the module docstring."""

    name = "docker-buildx"

    def __init__(self, *, runner: CommandRunner = run_command, executable: str = "docker",
                 docker_config: Path | None = None) -> None:
        self.runner = runner
        self.executable = executable
        self.docker_config = docker_config or Path(
            os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker"
        )

    def available(self) -> bool:
        """buildx answers and so does an engine; the CLI alone cannot build."""
        if self.runner([self.executable, "buildx", "version"], timeout=30).returncode != 0:
            return False
        probe = [self.executable, "info", "--format", "{{.ServerVersion}}"]
        return self.runner(probe, timeout=30).returncode == 0

    def build_argv(self, request: BuildRequest, archive: Path) -> list[str]:
        output = f"type=oci,dest={archive}"
        build_args = dict(request.build_args)
        if request.source_date_epoch is not None:
            output += ",rewrite-timestamp=true"
            build_args.setdefault("SOURCE_DATE_EPOCH", str(request.source_date_epoch))
        argv = [
            self.executable, "buildx", "build", "--progress", "plain",
            "--platform", ",".join(request.platforms),
            "--output", output, "--provenance=false", "--sbom=false",
        ]
        for key, value in sorted(build_args.items()):
            argv += ["--build-arg", f"{key}={value}"]
        for key, value in sorted(request.labels.items()):
            argv += ["--label", f"{key}={value}"]
        return [*argv, "--file", str(request.dockerfile), str(request.context)]

    def build(self, request: BuildRequest) -> BuildResult:
        platforms = parse_platforms(request.platforms)
        check_inputs(request)
        if not self.available():
            raise BuildError(f"docker buildx or the Docker engine does not answer; {INSTALL_HINT}")
        with tempfile.TemporaryDirectory(prefix="shipyard-buildx-") as tmp:
            archive = Path(tmp) / "image.tar"
            env: dict[str, str] = {}
            if request.source_date_epoch is not None:
                env["SOURCE_DATE_EPOCH"] = str(request.source_date_epoch)
            if request.registry_auth is not None:
                config = write_docker_config(Path(tmp) / "docker", request.registry_auth,
                                             self.docker_config)
                env["DOCKER_CONFIG"] = str(config)
            result = self.runner(self.build_argv(request, archive), env=env)
            if result.returncode != 0:
                raise redacted(translate(result.stderr, platforms, request.dockerfile), request)
            with staged_layout(request.output) as staging:
                unpack_oci_tar(archive, staging)
        return BuildResult(request.output, tuple(str(p) for p in platforms), self.name)


def write_docker_config(folder: Path, login: RegistryLogin, user_config: Path) -> Path:
    """A Docker config folder: the user's config.json plus `login`, which wins for its host."""
    folder.mkdir(mode=0o700, parents=True)
    try:
        config = json.loads((user_config / "config.json").read_text())
    except (OSError, ValueError):
        config = {}
    config.setdefault("auths", {})[login.host] = {"auth": login.token()}
    # An empty helper for this host makes the CLI read `auths` for it even when the user
    # has a global `credsStore` (docker/cli GetCredentialsStore).
    config.setdefault("credHelpers", {})[login.host] = ""
    fd = os.open(folder / "config.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle)
    for name in _LINKED:
        if (user_config / name).exists():
            (folder / name).symlink_to(user_config / name)
    return folder


def translate(stderr: str, platforms: tuple[Platform, ...], dockerfile: Path) -> ShipyardError:
    """The error for a failed `docker buildx build`, from its plain progress output."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR: ")]
    detail = (errors or lines or ["docker buildx exited without a message"])[-1]
    detail = detail.removeprefix("failed to solve: ")
    location, step = dockerfile.name, ""
    snippets = [m for line in lines if (m := _SNIPPET.match(line))]
    if snippets:
        location += f" line {snippets[-1]['line']}"
        step = snippets[-1]["text"].strip()
    where = f"{location} ({step})" if step else location
    if "exec format error" in stderr.lower():
        platform = _failed_platform(lines, platforms)
        if platform is not None and (error := foreign_binary_error(platform, step, location)):
            return error
    low = detail.lower()
    if "unauthorized" in low or "authentication required" in low:
        return AuthError(f"the registry refused to serve a base image at {where}: {detail}; "
                         "check the registry login given to the build")
    if "not supported for the docker driver" in low or "docker driver" in low:
        return BuildError(
            f"the active buildx builder cannot export OCI images: {detail}; create one with "
            "`docker buildx create --use --driver docker-container`, or build with buildah"
        )
    return BuildError(f"docker buildx build failed at {where}: {detail}; "
                      "fix that instruction and build again")


def _failed_platform(lines: list[str], platforms: tuple[Platform, ...]) -> Platform | None:
    """The platform whose step printed "exec format error", else the first foreign one."""
    headers = {m["id"]: m["platform"] for line in lines if (m := _HEADER.match(line))}
    for line in lines:
        if "exec format error" in line.lower() and (m := _VERTEX.match(line)):
            for platform in platforms:
                if str(platform) == headers.get(m["id"]):
                    return platform
    return next((p for p in platforms if p.arch != host_arch()), None)
