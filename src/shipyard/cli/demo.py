"""`shipyard demo`: run the GamePulse pipeline against the local sandbox."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.push import print_push
from shipyard.cli.sandbox import ensure_sandbox, provision_for_demo
from shipyard.cli.version import explain


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    sandbox: Annotated[bool, typer.Option(
        "--sandbox/--no-sandbox",
        help="Start (or reuse) the local sandbox and point the pipeline at it; "
             "--no-sandbox uses the AWS the environment names.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Run the release pipeline for this service, step by step."""
    from shipyard.adapters.builders import choose_builder
    from shipyard.cli.progress import PushProgress
    from shipyard.usecases.demo import run_demo
    from shipyard.usecases.verify import enforce

    state = session(ctx)
    config = state.config()
    out = Out(as_json)
    if sandbox:
        sandbox_env = ensure_sandbox(out)
        # boto3 reads endpoints and credentials from the process environment.
        os.environ.update(sandbox_env)
        state.env.update(sandbox_env)
        if config.demo.infrastructure is not None:
            provision_for_demo(config.path(config.demo.infrastructure),
                               config.demo.infrastructure_parameters, out)
    with PushProgress(out) as progress:
        builder = choose_builder(config.build.builder)
        context = state.context(config, builder=builder, progress=progress)
        result = run_demo(config, context)
    push = result.push
    assert push is not None
    for warning in push.warnings:
        out.warn(warning)
    if as_json:
        out.json(result.to_json())
    else:
        version = result.tags.version
        out.line(f"== 1. version of {config.service.name}: {version.decision.version} "
                 f"({explain(version)})")
        out.line("== 2. base image: " + (result.base_image or "(none configured)"))
        out.line("== 3. build, push and scan (multi-arch, latest)")
        print_push(push, out)
        out.line("== 4. verify each environment with this image")
        for verified in result.verified:
            failed = [f"{c.name}: {c.detail}" for c in verified.failed]
            out.line(f"verify {verified.render.environment}: "
                     + (f"{len(verified.checks)} checks passed" if not failed
                        else "FAILED: " + "; ".join(failed)))
        if sandbox:
            out.line("the sandbox keeps running: eval \"$(shipyard sandbox env)\" to look "
                     "around, shipyard sandbox down to stop it")
    for verified in result.verified:
        enforce(verified)
