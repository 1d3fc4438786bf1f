"""`shipyard status ENV`: what ENV runs now: image, version, deployments, traffic, events."""

from __future__ import annotations

from typing import Any

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import Environment


@app.command("status")
def status_command(ctx: typer.Context, environment: Environment,
                   as_json: JsonFlag = False) -> None:
    """Show what ENV runs now: image and version, task definition, deployments or task sets
    with their counts, listener weights, a CodeDeploy deployment in progress, last events."""
    from shipyard.usecases.status import environment_status

    state = session(ctx)
    config = state.config()
    result = environment_status(environment, config, state.context(config))
    out = Out(as_json)
    if as_json:
        out.json(result.to_json())
        return
    for line in status_lines(result):
        out.line(line)


def status_lines(result: Any) -> list[str]:
    """The status as plain lines (the same on a terminal and in a log)."""
    revision = result.task_definition.rsplit("/", 1)[-1]
    lines = [f"{result.environment}: service {result.service} in cluster {result.cluster} "
             f"({result.controller}), {result.running}/{result.desired} running, "
             f"{result.pending} pending",
             f"task definition {revision}",
             f"image {result.image}" + (f" ({result.digest})" if result.digest
                                        and result.digest not in result.image else ""),
             f"version {result.version or 'unknown'}" + (f" ({result.note})" if result.note
                                                          else "")]
    kind = "task sets" if result.controller != "ECS" else "deployments"
    lines.append(f"{kind}:")
    for row in result.rows:
        scale = f" scale {row.scale:g}%" if row.scale is not None else ""
        lines.append(f"  {row.status:<8} {row.task_definition:<24} {row.running}/{row.desired}"
                     f" running, {row.pending} pending, {row.state or '-'}{scale}  {row.id}")
    for route in result.routes:
        weights = ", ".join(f"{group} {percent:g}%" for group, percent in route.weights)
        lines.append(f"listener {route.listener} ({route.rule}): {weights}")
    if result.codedeploy:
        lines.append(f"CodeDeploy deployment in progress: {result.codedeploy.id} "
                     f"({result.codedeploy.status})")
    if result.events:
        lines.append("last events:")
        lines += [f"  {at} {message}" for at, message in reversed(result.events)]
    return lines
