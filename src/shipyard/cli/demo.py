"""`shipyard demo`: run the GamePulse pipeline against the local sandbox."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.sandbox import ensure_sandbox, listener_urls, provision_for_demo

# How a provisioned resource came to be, as the summary says it.
STATES = {"exists": "already there"}


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
    from shipyard.cli.demo_view import DemoView, print_summary
    from shipyard.usecases.demo import DemoOptions, run_demo
    from shipyard.usecases.deploy.deploy import enforce as enforce_deployed
    from shipyard.usecases.verify import enforce

    state = session(ctx)
    config = state.config()
    out = Out(as_json)
    preferred = None if config.build.builder == "auto" else config.build.builder
    builder = choose_builder(preferred)
    with DemoView(out) as view:
        provision: Callable[[], str] | None = None
        if sandbox:
            view.working("starting the sandbox")
            sandbox_env = ensure_sandbox(view.out)
            # boto3 reads endpoints and credentials from the process environment.
            os.environ.update(sandbox_env)
            state.env.update(sandbox_env)
            if config.demo.infrastructure is not None:
                provision = _provisioning(config.path(config.demo.infrastructure),
                                          config.demo.infrastructure_parameters, state.env)
        context = state.context(config, builder=builder, progress=view.progress)
        result = run_demo(DemoOptions(provision=provision, on_step=view), config, context)
    if as_json:
        out.json(result.to_json())
    else:
        print_summary(result, out)
        if sandbox:
            out.line("the sandbox keeps running: eval \"$(shipyard sandbox env)\" to look "
                     "around, shipyard sandbox down to stop it")
    for verified in result.verified:
        enforce(verified)
    for outcome in result.deployed:
        enforce_deployed(outcome)


def _provisioning(template: Path, parameters: dict[str, str],
                  env: dict[str, str]) -> Callable[[], str]:
    """The demo's first step: the service's resources in the sandbox, said in one line.
    The load balancers' local URLs (SHIPYARD_LISTENER_*, which the health checks after each
    deploy ask) exist from then on, and are added to `env`, the command's environment."""

    def provision() -> str:
        report = provision_for_demo(template, parameters)
        env.update(listener_urls())
        states = Counter(STATES.get(r.state, r.state) for r in report.resources)
        return (f"{len(report.resources)} resources of {template.name} in the sandbox ("
                + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) + ")")

    return provision
