"""`shipyard demo`: run the service's release pipeline (its CI workflow, rehearsed) on the
local sandbox."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.sandbox import (
    ensure_sandbox,
    listener_urls,
    provision_for_demo,
    sandbox_environment,
)
from shipyard.errors import ShipyardError

# How a provisioned resource came to be, as the summary says it.
STATES = {"exists": "already there"}


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Minutes each rehearsed push may take.")] = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Run the release pipeline for this service on the local sandbox: a push to develop, the
    merge to main, and a second commit on main, each through the CI workflow's jobs."""
    from shipyard.cli.demo_view import DemoView, print_summary
    from shipyard.usecases.demo import DemoOptions, check_demo, run_demo

    state = session(ctx)
    config = state.config()
    check_demo(config)  # before the sandbox starts
    out = Out(as_json)
    with DemoView(out) as view:
        view.working("starting the sandbox")
        sandbox_env, sandbox_dir, started = ensure_sandbox(view.out)
        # boto3 reads endpoints and credentials from the process environment.
        os.environ.update(sandbox_env)
        state.env.update(sandbox_env)
        provision = None
        if config.demo.infrastructure is not None:
            provision = _provisioning(config.path(config.demo.infrastructure),
                                      config.demo.infrastructure_parameters, state.env)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        run_dir = sandbox_dir / "demo" / "runs" / stamp
        context = state.context(config, progress=view.progress)
        result = run_demo(DemoOptions(
            sandbox_dir=sandbox_dir, run_dir=run_dir, sandbox_env=sandbox_environment,
            fresh_sandbox=started, provision=provision, on_step=view,
            timeout=timeout * 60.0), config, context)
    record = run_dir / "demo.json"
    record.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    if as_json:
        out.json(result.to_json())
    else:
        print_summary(result, out)
        out.line(f"everything this run made: {run_dir} (its record: {record.name})")
        out.line("the sandbox keeps running: eval \"$(shipyard sandbox env)\" to look around, "
                 "shipyard sandbox down to stop it")
    if result.failure:
        raise ShipyardError(result.failure)


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
