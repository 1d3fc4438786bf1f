"""`shipyard sign IMAGE`: sign an image, its index and every platform image, as cosign does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session

if TYPE_CHECKING:
    from shipyard.usecases.sign import SignResult

KeyOption = Annotated[str | None, typer.Option(
    "--key", help="A PEM private key file or awskms:///alias/NAME (default: "
    "SHIPYARD_SIGNING_KEY, then [signing] key).", show_default=False)]


@app.command("sign")
def sign_command(
    ctx: typer.Context,
    image: Annotated[str, typer.Argument(help="A tag or sha256 digest in the repository.")],
    key: KeyOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Sign an image in the repository with a PEM or AWS KMS key: the index and each platform
    image get a cosign signature under their sha256-<hex>.sig tag. Signing what the key
    signed already writes nothing."""
    from shipyard.cli.options import image_reference
    from shipyard.usecases.sign import open_signing_key, sign_image
    from shipyard.usecases.target import resolve_target

    image_reference(image)
    state = session(ctx)
    config = state.config()
    context = state.context(config)
    signing_key = open_signing_key(config, context, key)
    target = resolve_target(config, context)
    result = sign_image(context, target, image, signing_key)
    out = Out(as_json)
    if as_json:
        out.json(result.summary())
    else:
        print_signed(result, out)


def print_signed(result: SignResult, out: Out) -> None:
    out.line(f"signed {result.image} with {result.key} ({result.fingerprint}): "
             f"{result.written} new signature{'s' if result.written != 1 else ''}")
    width = max(len(m.platform) for m in result.manifests)
    for manifest in result.manifests:
        out.line(f"  {manifest.platform:<{width}}  {manifest.digest[:19]}…  {manifest.state:<14}"
                 f"  {manifest.tag}")
