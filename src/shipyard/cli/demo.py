"""`shipyard demo`: run the GamePulse pipeline against the local sandbox."""

from __future__ import annotations

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.tags import print_tags
from shipyard.cli.version import explain
from shipyard.usecases.demo import run_demo


@app.command("demo")
def demo_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Run the release pipeline for this service, step by step."""
    state = session(ctx)
    config = state.config()
    result = run_demo(config, state.git(config), state.actions())
    out = Out(as_json)
    for warning in (*result.tags.version.warnings, *result.tags.plan.warnings):
        out.warn(warning)
    if as_json:
        out.json(result.to_json())
        return
    version = result.tags.version
    out.line(f"== step 1: version of {config.service.name}")
    out.line(f"{version.decision.version}  ({explain(version)})")
    out.line("== step 2: image tag plan")
    print_tags(result.tags, out)
