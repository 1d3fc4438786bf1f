"""Options several commands share, declared once so their flags and help read the same."""

from __future__ import annotations

from typing import Annotated

import typer

Environment = Annotated[str, typer.Argument(help="The environment, e.g. staging.")]
Image = Annotated[str | None, typer.Option(
    "--image", help="The image: REPO@sha256:..., a tag (REPO:TAG, :TAG) or a digest "
    "(@sha256:...) in the service's registry, or a full reference (default: this commit's "
    "version).", show_default=False)]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check everything, write nothing.")]
ManualVersion = Annotated[
    str | None,
    typer.Option("--version", help="Use this version (X.Y.Z, a leading 'v' accepted).",
                 show_default=False),
]
MultiArch = Annotated[bool, typer.Option(
    "--multi-arch", help="Build build.multi_arch_platforms (linux/amd64, linux/arm64).")]
Platforms = Annotated[list[str] | None, typer.Option(
    "--platform", help="Build this platform (repeatable), e.g. linux/arm64.",
    show_default=False)]
BumpPart = Annotated[
    str | None,
    typer.Option("--bump", help="Bump this part of the base version: major, minor or patch.",
                 show_default=False),
]


def key_value_pairs(values: list[str] | None, flag: str, example: str) -> dict[str, str]:
    """Repeated KEY=VALUE options as a dict; a UsageError naming the flag for one that is
    not (`example` shows a good one)."""
    from shipyard.errors import UsageError

    pairs = {}
    for item in values or ():
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise UsageError(f"{flag} '{item}' is not KEY=VALUE; write it as {flag} {example}")
        pairs[key] = value
    return pairs


def image_reference(image: str) -> str:
    """IMAGE as `scan`, `sign` and `verify-image` take it: a tag or a digest of the service's
    repository, checked before any AWS call (ECR would answer a bad one with a parameter
    error)."""
    from shipyard.domain.names import DIGEST, TAG
    from shipyard.errors import UsageError

    if not (TAG.fullmatch(image) or DIGEST.fullmatch(image)):
        raise UsageError(f"IMAGE {image!r} is not a tag or a sha256 digest of the "
                         "repository; pass a tag such as 1.2.3 or latest, or "
                         "sha256:<64 lowercase hex digits>")
    return image
