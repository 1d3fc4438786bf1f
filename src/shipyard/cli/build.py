"""`shipyard build`: build the image into an OCI layout and push it nowhere (a pull request's
build)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import BumpPart, ManualVersion, MultiArch, Platforms

if TYPE_CHECKING:
    from shipyard.usecases.build_image import BuiltImage


@app.command("build")
def build_command(
    ctx: typer.Context,
    manual: ManualVersion = None,
    bump: BumpPart = None,
    multi_arch: MultiArch = False,
    platform: Platforms = None,
    as_json: JsonFlag = False,
) -> None:
    """Build the image as push would, into an OCI layout, and push it nowhere (for pull
    requests; `push --from-oci DIR` can push the layout later)."""
    from shipyard.adapters.builders import choose_builder
    from shipyard.usecases.build_image import BuildImageOptions, build_image

    state = session(ctx)
    outputs = state.outputs()  # checked before any work: an unusable file stops it here
    config = state.config()
    builder = choose_builder(config.build.builder)
    options = BuildImageOptions(manual=manual, bump=bump, multi_arch=multi_arch,
                                platforms=tuple(platform or ()))
    built = build_image(options, config, state.context(config, builder=builder))
    out = Out(as_json)
    for warning in [*built.tags.version.warnings, *built.tags.plan.warnings]:
        out.warn(warning)
    if as_json:
        out.json(built.to_json())
    else:
        print_built(built, out)
    outputs.set(version=built.version, digest=built.digest, layout=str(built.layout))
    platforms = ", ".join(built.platforms)
    outputs.summary(f"### Built {built.version} (not pushed)\n\n| | |\n|---|---|\n"
                    f"| digest | `{built.digest}` |\n| platforms | {platforms} |\n")


def print_built(built: BuiltImage, out: Out) -> None:
    decision = built.tags.version.decision
    out.line(f"version {decision.version} ({decision.source}: {decision.reason})")
    out.line(f"platforms {', '.join(built.platforms)}")
    for name, value in built.tags.plan.labels.items():
        out.line(f"label {name}={value}")
    out.line(f"built {built.layout} ({built.digest})")
    out.line("not pushed: no registry, ECR or git write (shipyard push --from-oci "
             f"{built.layout} pushes this layout)")
