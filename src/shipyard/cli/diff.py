"""`shipyard diff ENV`: what a deploy of ENV would change in its task definition."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import Environment, Image


@app.command("diff")
def diff_command(ctx: typer.Context, environment: Environment, image: Image = None,
                 exit_code: Annotated[bool, typer.Option(
                     "--exit-code", help="Exit 1 when there are differences, 0 when none "
                     "(as git diff --exit-code).")] = False,
                 as_json: JsonFlag = False) -> int:
    """Show how ENV's rendered task definition differs from what its service runs now."""
    from shipyard.usecases.diff import diff_environment

    state = session(ctx)
    config = state.config()
    result = diff_environment(environment, image, config, state.context(config))
    out = Out(as_json)
    if as_json:
        out.json(result.to_json())
    elif result.changed:
        for line in result.diff.splitlines():
            out.line(line)
    else:
        out.info(f"no changes: {environment} runs {result.running}, as rendered")
    return 1 if exit_code and result.changed else 0
