"""`shipyard verify-image IMAGE`: check the cosign signatures of an image and its platforms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session

if TYPE_CHECKING:
    from shipyard.usecases.verify_image import VerifyResult


@app.command("verify-image")
def verify_image_command(
    ctx: typer.Context,
    image: Annotated[str, typer.Argument(help="A tag or sha256 digest in the repository.")],
    keys: Annotated[list[str] | None, typer.Option(
        "--key", help="A key whose signatures count: a PEM public or private key file, or "
        "awskms:///alias/NAME; repeat for several (default: [signing] verify_keys, then the "
        "signing key).", show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check that the image, and each platform image of an index, has a signature that
    verifies with one of the keys and names that very digest. Exit 18 when one has not."""
    from shipyard.cli.options import image_reference
    from shipyard.errors import SignatureError
    from shipyard.usecases.target import resolve_target
    from shipyard.usecases.verify_image import open_verify_keys, verify_image

    image_reference(image)
    state = session(ctx)
    config = state.config()
    context = state.context(config)
    verifying = open_verify_keys(config, context, keys or [])
    target = resolve_target(config, context)
    result = verify_image(context, target, image, verifying)
    out = Out(as_json)
    if as_json:
        out.json(result.summary())
    else:
        print_verdicts(result, out)
    if not result.verified:
        failed = result.failures
        raise SignatureError(
            f"image {result.image}: {len(failed)} of {len(result.manifests)} manifests have "
            f"no valid signature ({failed[0].platform}: {failed[0].reason}); sign it with "
            "shipyard sign, or pass the key that signed it with --key")


def print_verdicts(result: VerifyResult, out: Out) -> None:
    verdict = "verified" if result.verified else "NOT verified"
    out.line(f"{result.image}: {verdict}")
    width = max(len(m.platform) for m in result.manifests)
    for manifest in result.manifests:
        mark = "ok " if manifest.verified_by else "BAD"
        out.line(f"  {mark} {manifest.platform:<{width}}  {manifest.digest[:19]}…  "
                 f"{manifest.reason}")
