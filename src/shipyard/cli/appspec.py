"""`shipyard appspec`: generate an environment's CodeDeploy AppSpec, or `--check` a file."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.redaction import redact_output

if TYPE_CHECKING:
    from shipyard.usecases.appspec import AppSpecResult

# Spelled here too so that --help does not import the AppSpec machinery (YAML and all).
TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"


class AppSpecFormat(StrEnum):
    """The two formats CodeDeploy reads an AppSpec in."""

    yaml = "yaml"
    json = "json"


@app.command("appspec")
def appspec_command(
    ctx: typer.Context,
    environment: Annotated[
        str | None,
        typer.Argument(metavar="ENV", show_default=False,
                       help="The blue_green environment in shipyard.toml to generate for."),
    ] = None,
    task_definition: Annotated[
        str | None,
        typer.Option("--task-definition", metavar="ARN", show_default=False,
                     help=f"The task-definition ARN to deploy (default: the placeholder "
                          f"{TASK_DEFINITION_PLACEHOLDER}, which CodePipeline and "
                          "amazon-ecs-deploy-task-definition fill in)."),
    ] = None,
    output_format: Annotated[
        AppSpecFormat | None,
        typer.Option("--format", show_default=False, case_sensitive=False,
                     help="yaml or json (default: json for an --output ending in .json, "
                          "else yaml)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", metavar="FILE", dir_okay=False, show_default=False,
                     help="Write the AppSpec to FILE (relative to the current folder; atomically, "
                          "only once it is valid) instead of printing it."),
    ] = None,
    check: Annotated[
        Path | None,
        typer.Option("--check", metavar="FILE", dir_okay=False, show_default=False,
                     help="Validate this AppSpec (YAML or JSON) instead of generating one."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Generate the CodeDeploy AppSpec of a blue/green environment, or check one."""
    from shipyard.usecases.appspec import AppSpecOptions, run_appspec

    state = session(ctx)
    options = AppSpecOptions(environment=environment, task_definition=task_definition,
                             output_format=output_format.value if output_format else None,
                             output=output, check=check)
    result = run_appspec(options, state.config)
    out = Out(as_json)
    for problem in result.problems:
        sys.stderr.write(redact_output(f"{result.problem_source}: {problem}\n"))
    if as_json:
        out.json(result.to_json())
    else:
        _print(result, out)
    if result.failure is not None:
        raise result.failure


def _print(result: AppSpecResult, out: Out) -> None:
    if result.failure is not None:
        return
    if result.checked:
        out.line(f"{result.subject}: a valid ECS AppSpec")
        return
    if result.written is None:
        # The document itself, byte for byte, so that `> appspec.yml` works.
        sys.stdout.write(result.text)
        sys.stdout.flush()
    else:
        out.info(f"wrote {result.written} ({result.output_format}) for {result.subject}")
    if result.placeholder:
        out.info(f"TaskDefinition is {TASK_DEFINITION_PLACEHOLDER}: the deploy step puts the "
                 "registered ARN there; pass --task-definition ARN to deploy this file as is")
