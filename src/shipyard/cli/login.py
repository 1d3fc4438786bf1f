"""`shipyard login`: prove the ECR login works; store a docker credential only when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session


@app.command("login")
def login_command(
    ctx: typer.Context,
    docker_config: Annotated[Path | None, typer.Option(
        "--docker-config", help="Also write the credential into this docker config.json "
        "(e.g. ~/.docker/config.json). The token is a secret: only when you need it.",
        show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Log in to ECR and check the registry accepts the token (it is never printed)."""
    from shipyard.usecases.login import login

    state = session(ctx)
    config = state.config()
    result = login(config, state.context(config), docker_config)
    out = Out(as_json)
    if as_json:
        out.json(result.to_json())
        return
    out.line(f"login succeeded for {result.target.registry}")
    if result.docker_config:
        out.line(f"credential written to {result.docker_config} (mode 0600)")
