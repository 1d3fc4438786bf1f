"""Image builders: a Dockerfile and a context in, an OCI image layout folder out.

Two builders follow one protocol (`Builder`): docker buildx where a Docker engine runs, and
buildah (daemonless, chroot + vfs) everywhere else. Both write the same shapes: one platform
gives a layout whose single entry is an image manifest; several give an image index whose
children carry their platform. The pusher then reads the layout, never the builder.

    builder = choose_builder()            # docker buildx if an engine answers, else buildah
    result = builder.build(BuildRequest(context=Path("GamePulse"),
                                        dockerfile=Path("GamePulse/Dockerfile"),
                                        platforms=("linux/amd64", "linux/arm64"),
                                        output=Path("build/image")))

Builders run commands through a `CommandRunner` (a plain function), so unit tests fake it.
"""

from __future__ import annotations

from pathlib import Path

from shipyard.errors import BuildError, UsageError

from .buildah import BuildahBuilder
from .buildx import DockerBuildxBuilder
from .request import Builder, BuildRequest, BuildResult, RegistryLogin
from .runner import CommandResult, CommandRunner, run_command

__all__ = [
    "BuildRequest",
    "BuildResult",
    "BuildahBuilder",
    "Builder",
    "CommandResult",
    "CommandRunner",
    "DockerBuildxBuilder",
    "RegistryLogin",
    "choose_builder",
    "run_command",
]

CHOICES = ("buildah", "docker")


def choose_builder(
    preferred: str | None = None,
    *,
    runner: CommandRunner = run_command,
    buildah_storage: Path | None = None,
) -> Builder:
    """The builder to use: `preferred` if it is available, else the best one present.

    With no preference, docker buildx wins when both `docker buildx version` and `docker info`
    work (an engine is running); otherwise buildah.
    """
    if preferred not in (None, *CHOICES):
        raise UsageError(f"unknown builder {preferred!r}; choose one of {', '.join(CHOICES)}")
    docker = DockerBuildxBuilder(runner=runner)
    buildah = BuildahBuilder(buildah_storage, runner=runner)
    if preferred == "docker":
        if not docker.available():
            raise BuildError("docker buildx was asked for but docker buildx or the Docker engine "
                             "does not answer; start the engine, install buildx "
                             "(apt-get install docker-buildx), or use the buildah builder")
        return docker
    if preferred == "buildah":
        if not buildah.available():
            raise BuildError("buildah was asked for but the 'buildah' command is not installed "
                             "or does not run; install it (apt-get install buildah)")
        return buildah
    if docker.available():
        return docker
    if buildah.available():
        return buildah
    raise BuildError("no image builder found: install buildah (apt-get install buildah), "
                     "or Docker Engine with the buildx plugin and start it")
