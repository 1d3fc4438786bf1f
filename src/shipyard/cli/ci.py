"""`shipyard ci github`: write (or check) the service's GitHub Actions workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, session

ci_app = typer.Typer(help="Generate the CI/CD workflow from shipyard.toml.",
                     no_args_is_help=True)


def repository_root(folder: Path) -> Path | None:
    """The nearest folder at or above `folder` holding .git (a folder, or a worktree's file)."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


@ci_app.command("github")
def github(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write here instead of ci.workflow under the repository root "
        "('-': print it).", show_default=False)] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 when the file differs from what would be "
        "written.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Generate .github/workflows/<service>-ci-cd.yml: test, build, deploy-staging,
    deploy-production, integration and cleanup jobs, from shipyard.toml."""
    from shipyard.errors import ShipyardError, UsageError
    from shipyard.usecases.ci_github import github_workflow

    config = session(ctx).config()
    out = Out(as_json)
    root = repository_root(config.project_dir)
    if root is None and output is None:
        raise UsageError(f"{config.project_dir} is not in a git repository, so the workflow's "
                         "place is unknown; pass --output PATH")
    project = config.project_dir.relative_to(root).as_posix() if root else "."
    workflow = github_workflow(config, project)  # checks the config before any write
    if output is not None and str(output) == "-":
        if check:
            raise UsageError("--check compares a file; drop '--output -'")
        typer.echo(workflow.text, nl=False)
        return
    target = output if output is not None else (root or Path()) / workflow.path
    current = target.read_text(encoding="utf-8") if target.is_file() else None
    if target.exists() and current is None:
        raise UsageError(f"{target} is not a file; pass --output to a file path")
    same = current == workflow.text
    if check:
        if as_json:
            out.json({"path": str(target), "up_to_date": same})
        if not same:
            state = "is missing" if current is None else "differs from shipyard.toml"
            raise ShipyardError(f"{target} {state}; run `shipyard ci github` to regenerate it")
        if not as_json:
            out.line(f"{target} is up to date")
        return
    if not same:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(workflow.text, encoding="utf-8")
    if as_json:
        out.json({"path": str(target), "written": not same})
    else:
        out.line(f"{target} {'written' if not same else 'is up to date (unchanged)'}")
