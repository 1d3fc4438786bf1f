"""`shipyard init`: scaffold a new service's shipyard.toml, version.txt and deploy files."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session

if TYPE_CHECKING:
    from shipyard.usecases.init import InitOptions, InitResult


def _option(flag: str, help: str, metavar: str | None = None) -> typer.models.OptionInfo:
    return typer.Option(flag, help=help, metavar=metavar, show_default=False)


@app.command("init")
def init_command(
    ctx: typer.Context,
    name: Annotated[str | None, _option(
        "--name", "The service name (default: the folder's name, made a valid ECR name).")
    ] = None,
    region: Annotated[str | None, _option("--region", "AWS region (default ap-northeast-2).")
                      ] = None,
    repository: Annotated[str | None, _option(
        "--repository", "ECR repository (default: the name).")] = None,
    port: Annotated[int | None, _option("--port", "Container port (default 8080).")] = None,
    cpu_architecture: Annotated[str | None, _option(
        "--cpu-architecture", "X86_64 (default) or ARM64.", "ARCH")] = None,
    environments: Annotated[list[str] | None, _option(
        "--environment", "An environment; repeat for more (default: staging and production).",
        "NAME")] = None,
    blue_green: Annotated[list[str] | None, _option(
        "--blue-green", "An environment deployed with CodeDeploy blue/green; repeat for more "
        "(default: production when listed).", "ENV")] = None,
    no_blue_green: Annotated[bool, typer.Option(
        "--no-blue-green", help="Every environment deploys with ECS rolling updates.")] = False,
    cluster: Annotated[str | None, _option("--cluster", "ECS cluster (default: the name).")
                       ] = None,
    health_path: Annotated[str | None, _option(
        "--health-path", "The container's health-check path (default /health).", "PATH")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check everything and print the files; write nothing.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", "--no-input", help="Ask nothing: use the flags and the defaults.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write shipyard.toml, version.txt and the deploy templates for a new service.

    On a terminal it asks for what the flags leave out; in CI or a pipe it never asks.
    """
    from shipyard.usecases.init import InitOptions, init_project

    state = session(ctx)
    if blue_green and no_blue_green:
        from shipyard.errors import UsageError

        raise UsageError("--blue-green and --no-blue-green contradict each other; keep one")
    options = InitOptions(
        name=name, region=region, repository=repository, cluster=cluster, port=port,
        cpu_architecture=cpu_architecture, health_path=health_path,
        environments=tuple(environments or ()),
        blue_green=() if no_blue_green else (tuple(blue_green) if blue_green else None),
        force=force, dry_run=dry_run)
    interactive = sys.stdin.isatty() and sys.stderr.isatty() and not state.env.get("CI")
    if interactive and not yes:
        options = _ask(options, state.project_dir)
    result = init_project(options, state.project_dir)
    out = Out(as_json)
    if as_json:
        out.json(result.to_json())
    else:
        _print(result, out)


def _ask(options: InitOptions, project_dir: Path) -> InitOptions:
    """Prompt (on stderr) for each value the flags left out; a bad answer is asked again."""
    from dataclasses import replace

    from shipyard.domain import resource_names as names
    from shipyard.domain import scaffold
    from shipyard.usecases.init import default_name

    def ask(text: str, default: str, problem: Callable[[str], str | None]) -> str:
        def check(value: str) -> str:
            if found := problem(value.strip()):
                raise typer.BadParameter(found)
            return value.strip()

        return typer.prompt(text, default=default, value_proc=check, err=True)

    def listed(value: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in value.split(",") if part.strip())

    if options.name is None:
        options = replace(options, name=ask("Service name", default_name(project_dir),
                                            names.name_problem))
    if options.region is None:
        options = replace(options, region=ask("AWS region", scaffold.DEFAULT_REGION,
                                              names.region_problem))
    if options.port is None:
        port = ask("Container port", str(scaffold.DEFAULT_PORT),
                   lambda v: scaffold.port_problem(int(v)) if v.isdigit() else
                   f"--port {v} is not a whole number")
        options = replace(options, port=int(port))
    if options.health_path is None:
        options = replace(options, health_path=ask(
            "Health-check path", scaffold.DEFAULT_HEALTH_PATH, scaffold.health_path_problem))
    if options.cpu_architecture is None:
        options = replace(options, cpu_architecture=ask(
            "CPU architecture (X86_64 or ARM64)", "X86_64",
            lambda v: scaffold.architecture_problem(v.upper())).upper())
    if not options.environments:
        options = replace(options, environments=listed(ask(
            "Environments, comma-separated", ", ".join(scaffold.DEFAULT_ENVIRONMENTS),
            lambda v: next(filter(None, (names.name_problem(e, "environment")
                                         for e in listed(v))), None)
            if listed(v) else "name at least one environment")))
    if options.blue_green is None:
        environments = options.environments

        def not_listed(value: str) -> str | None:
            if value == "none":
                return None
            unknown = [e for e in listed(value) if e not in environments]
            return f"{unknown[0]} is not one of {', '.join(environments)}" if unknown else None

        chosen = ask("Blue/green environments (CodeDeploy), comma-separated, or none",
                     ", ".join(scaffold.default_blue_green(environments)) or "none", not_listed)
        options = replace(options, blue_green=() if chosen == "none" else listed(chosen))
    return options


def _print(result: InitResult, out: Out) -> None:
    if result.dry_run:
        for path, text in result.files.items():
            out.line(f"--- {path} (would {'overwrite' if path in result.overwritten else 'write'})")
            for line in text.rstrip("\n").splitlines():
                out.line(line)
    else:
        for path in result.files:
            out.line(f"{'overwrote' if path in result.overwritten else 'wrote'} {path}")
    for path in result.kept:
        out.line(f"kept {path} ({result.version})")
    for note in result.notes:
        out.warn(note)
    if result.dry_run:
        out.info(f"dry run: nothing was written in {result.project_dir}")
        return
    first = result.answers.environments[0]
    out.info(f"next: commit these files, push an image (shipyard push), then check {first} "
             f"with `shipyard render {first}` and `shipyard verify {first}`")
