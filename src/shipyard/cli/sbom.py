"""`shipyard sbom IMAGE`: attach a CycloneDX SBOM to each platform image, and sign it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.sign import KeyOption

if TYPE_CHECKING:
    from shipyard.usecases.sbom import SbomResult


@app.command("sbom")
def sbom_command(
    ctx: typer.Context,
    image: Annotated[str, typer.Argument(help="A tag or sha256 digest in the repository.")],
    sign: Annotated[bool, typer.Option(
        "--sign", help="Sign each SBOM as an image is signed (cosign's format).")] = False,
    key: KeyOption = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Also write each SBOM made here (PLATFORM.cdx.json).",
        show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a CycloneDX SBOM of each platform image (Debian packages from the dpkg database,
    Python distributions from their metadata) and attach it to the image as an OCI artifact
    tagged sha256-<hex>.sbom. An image with an SBOM attached keeps it."""
    from shipyard.cli.options import image_reference
    from shipyard.errors import UsageError
    from shipyard.usecases.sbom import attach_sboms
    from shipyard.usecases.sign import open_signing_key
    from shipyard.usecases.target import resolve_target

    image_reference(image)
    if key is not None and not sign:
        raise UsageError("--key names the key --sign signs with: add --sign")
    state = session(ctx)
    config = state.config()
    context = state.context(config)
    signing_key = open_signing_key(config, context, key) if sign else None
    target = resolve_target(config, context)
    result = attach_sboms(context, target, image, key=signing_key, output=output)
    out = Out(as_json)
    if as_json:
        out.json(result.summary())
    else:
        print_sboms(result, out)


def print_sboms(result: SbomResult, out: Out) -> None:
    attached = sum(1 for s in result.sboms if s.state == "attached")
    out.line(f"SBOMs of {result.image}: {attached} attached, "
             f"{len(result.sboms) - attached} there already")
    for sbom in result.sboms:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(sbom.counts.items())) \
            or "no packages found"
        where = f"  ({sbom.path})" if sbom.path else ""
        out.line(f"  {sbom.platform}  {sbom.tag}  {sbom.state}: {counts}{where}")
    for signed in result.signed:
        out.line(f"  signed {signed.image} ({signed.written} new)")
