"""`shipyard version`: print the release version for this commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import BumpPart, DryRun, ManualVersion

if TYPE_CHECKING:
    from shipyard.usecases.version import VersionResult

@app.command("version")
def version_command(
    ctx: typer.Context,
    manual: ManualVersion = None,
    bump: BumpPart = None,
    write: Annotated[bool, typer.Option("--write", help="Rewrite the version file.")] = False,
    git_tag: Annotated[
        bool, typer.Option("--git-tag", help="Create the annotated tag v<version> at HEAD.")
    ] = False,
    dry_run: DryRun = False,
    as_json: JsonFlag = False,
) -> None:
    """Print the release version for this commit (manual > release tag > --bump > branch rule)."""
    state = session(ctx)
    outputs = state.outputs()  # checked before any work: an unusable file stops it here
    config = state.config()
    from shipyard.usecases.version import VersionOptions, compute_version

    options = VersionOptions(manual=manual, bump=bump, write=write, git_tag=git_tag,
                             dry_run=dry_run)
    result = compute_version(options, config, state.git(config), state.actions())
    out = Out(as_json)
    for warning in result.warnings:
        out.warn(warning)
    if as_json:
        out.json(result.to_json())
    else:
        print_version(result, out)
    _publish(result, outputs)  # after the result is printed: it happened whatever follows


def print_version(result: VersionResult, out: Out) -> None:
    out.line(str(result.decision.version))
    out.info(explain(result))
    verb = "would write" if result.dry_run else "wrote"
    if result.written_file:
        out.info(f"{verb} {result.written_file}")
    if result.created_commit:
        out.info(f"would commit {result.written_file}" if result.dry_run else
                 f"committed {result.written_file} as {result.created_commit[:7]}")
    if result.created_tag:
        out.info(f"{'would create' if result.dry_run else 'created'} git tag {result.created_tag}")
    if result.dry_run:
        out.info("dry run: nothing was written")


def explain(result: VersionResult) -> str:
    decision = result.decision
    where = f" at {result.source.sha[:7]}" if result.source else ""
    base = f" (previous {decision.previous})" if decision.previous else ""
    return f"{decision.source}: {decision.reason}{where}{base}"


def _publish(result: VersionResult, outputs) -> None:
    decision = result.decision
    outputs.set(version=str(decision.version), prerelease=str(decision.prerelease).lower())
    outputs.summary(
        f"### Version {decision.version}\n\n"
        f"| | |\n|---|---|\n"
        f"| source | {decision.source}: {decision.reason} |\n"
        f"| previous | {decision.previous or '-'} |\n"
        f"| prerelease | {str(decision.prerelease).lower()} |\n"
    )
