"""`shipyard render|verify|diff ENV`: an environment's task definition, checked before deploys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, Session, app, session

if TYPE_CHECKING:
    from shipyard.usecases.render import EnvironmentDeps

Environment = Annotated[str, typer.Argument(help="The environment, e.g. staging.")]
Image = Annotated[str | None, typer.Option(
    "--image", help="The image to deploy: REPO@sha256:... or a tag in the registry "
    "(default: this commit's version).", show_default=False)]


def _deps(state: Session, config) -> EnvironmentDeps:
    from shipyard.adapters.aws import Aws
    from shipyard.usecases.render import EnvironmentDeps
    from shipyard.usecases.target import region_of

    return EnvironmentDeps(git=state.git(config), actions=state.actions(),
                           aws=Aws(region_of(config, state.env)), env=state.env)


@app.command("render")
def render_command(ctx: typer.Context, environment: Environment, image: Image = None) -> None:
    """Print ENV's task definition, rendered and checked against ECS's model, as JSON."""
    from shipyard.usecases.render import render_environment

    state = session(ctx)
    config = state.config()
    result = render_environment(environment, image, config, _deps(state, config))
    Out().json(result.definition)


@app.command("verify")
def verify_command(ctx: typer.Context, environment: Environment, image: Image = None,
                   as_json: JsonFlag = False) -> None:
    """Check everything a deploy of ENV needs: definition, image, secrets, roles, service."""
    from shipyard.usecases.verify import enforce, verify_environment

    state = session(ctx)
    config = state.config()
    result = verify_environment(environment, image, config, _deps(state, config))
    out = Out(as_json)
    if as_json:
        out.json(result.to_json())
    else:
        out.line(f"verify {environment}: {result.render.image}")
        for check in result.checks:
            out.line(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    enforce(result)


@app.command("diff")
def diff_command(ctx: typer.Context, environment: Environment, image: Image = None,
                 as_json: JsonFlag = False) -> None:
    """Show how ENV's rendered task definition differs from what its service runs now."""
    from shipyard.usecases.diff import diff_environment

    state = session(ctx)
    config = state.config()
    result = diff_environment(environment, image, config, _deps(state, config))
    out = Out(as_json)
    if as_json:
        out.json(result.to_json())
    elif result.changed:
        for line in result.diff.splitlines():
            out.line(line)
    else:
        out.info(f"no changes: {environment} runs {result.running}, as rendered")


