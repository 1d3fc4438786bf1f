"""`shipyard rollback ENV`: back to what ran before, followed to the truth like a deploy."""

from __future__ import annotations

import sys

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.deploy import NoWait, Timeout, Yes
from shipyard.cli.options import DryRun, Environment

_ENDINGS = {  # the last line, by outcome (a failure's error line follows on stderr)
    "planned": "dry run: nothing was written",
    "started": "started {deployment}; not waiting (shipyard status {environment} shows it)",
    "succeeded": "rolled back: {reason} ({deployment}, {seconds:.1f}s)",
}


@app.command("rollback")
def rollback_command(ctx: typer.Context, environment: Environment, dry_run: DryRun = False,
                     no_wait: NoWait = False, timeout: Timeout = None, yes: Yes = False,
                     as_json: JsonFlag = False) -> None:
    """Roll ENV back: stop the deployment in progress, or redeploy the task definition of
    the last completed deployment before the current one; then follow it to the end."""
    from shipyard.cli.deploy_view import DeployView
    from shipyard.usecases.deploy.rollback import RollbackOptions, rollback

    state = session(ctx)
    config = state.config()
    options = RollbackOptions(environment, dry_run=dry_run, wait=not no_wait, timeout=timeout,
                              yes=yes, interactive=sys.stdin.isatty() and sys.stderr.isatty(),
                              ask=lambda question: bool(typer.confirm(question, default=False,
                                                                      err=True)))
    out = Out(as_json)
    with DeployView(as_json, live=out.fancy) as view:
        result = rollback(options, config, state.context(config), view.news,
                          lambda line: view.news(f"warning: {line}"))
    if as_json:
        out.json(result.to_json())
    else:
        out.line(result.plan.summary())
        for line in result.explanation:
            out.line(line)
        if result.outcome in _ENDINGS:
            out.line(_ENDINGS[result.outcome].format(
                reason=result.reason, deployment=result.deployment_id,
                seconds=result.duration, environment=environment))
    result.enforce()
