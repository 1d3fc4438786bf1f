"""`shipyard render ENV`: print ENV's task definition, rendered and checked."""

from __future__ import annotations

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import Environment, Image


@app.command("render")
def render_command(ctx: typer.Context, environment: Environment, image: Image = None,
                   as_json: JsonFlag = False) -> None:
    """Print ENV's task definition, rendered and checked against ECS's model, as JSON.

    Without --json the output is exactly what RegisterTaskDefinition takes; with --json it is
    wrapped with the environment, template and image.
    """
    from shipyard.usecases.render import render_environment

    state = session(ctx)
    config = state.config()
    result = render_environment(environment, image, config, state.context(config))
    Out(as_json).json(result.to_json() if as_json else result.definition)
