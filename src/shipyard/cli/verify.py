"""`shipyard verify ENV`: check everything a deploy of ENV needs, before it runs."""

from __future__ import annotations

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import Environment, Image

MARKS = {"ok": "ok  ", "fail": "FAIL", "skipped": "skip"}


@app.command("verify")
def verify_command(ctx: typer.Context, environment: Environment, image: Image = None,
                   as_json: JsonFlag = False) -> None:
    """Check everything a deploy of ENV needs: definition, image, secrets, roles, service."""
    from shipyard.usecases.verify import enforce, verify_environment

    state = session(ctx)
    config = state.config()
    result = verify_environment(environment, image, config, state.context(config))
    out = Out(as_json)
    if as_json:
        out.json(result.to_json())
    else:
        out.line(f"verify {environment}: {result.render.image}")
        for check in result.checks:
            out.line(f"{MARKS[check.status]} {check.name}: {check.detail}")
        out.line(f"{len(result.checks) - len(result.failed) - len(result.skipped)} ok, "
                 f"{len(result.failed)} failed, {len(result.skipped)} skipped")
    enforce(result)
