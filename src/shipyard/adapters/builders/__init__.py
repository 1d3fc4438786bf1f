"""Image builders: a Dockerfile and a context in, an OCI image layout folder out.

Two builders follow one protocol (`Builder`): buildah (daemonless, chroot + vfs), the
default everywhere, GitHub's runners included; and docker buildx, only when asked for
(`build.builder = "docker"`). Only buildah is exercised against the real tool in this
project's tests (no Docker engine runs here), so it is what Shipyard chooses by itself.
Both write the same shapes: one platform gives a layout whose single entry is an image
manifest; several give an image index whose children carry their platform. The pusher then
reads the layout, never the builder.

    builder = choose_builder()            # buildah; choose_builder("docker") for buildx
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
    preferred: str = "buildah",
    *,
    runner: CommandRunner = run_command,
    buildah_storage: Path | None = None,
) -> Builder:
    """The builder asked for (buildah unless told otherwise), once it answers."""
    if preferred not in CHOICES:
        raise UsageError(f"unknown builder {preferred!r}; choose one of {', '.join(CHOICES)}")
    docker = DockerBuildxBuilder(runner=runner)
    buildah = BuildahBuilder(buildah_storage, runner=runner)
    if preferred == "docker":
        if not docker.available():
            raise BuildError("docker buildx was asked for but docker buildx or the Docker engine "
                             "does not answer; start the engine, install buildx "
                             "(apt-get install docker-buildx), or use the buildah builder")
        return docker
    if not buildah.available():
        raise BuildError("the 'buildah' command is not installed or does not run; install it "
                         "(apt-get install buildah), or set build.builder = \"docker\" to "
                         "build with docker buildx")
    return buildah
