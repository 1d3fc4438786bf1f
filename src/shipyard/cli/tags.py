"""`shipyard tags`: print the image tags and OCI labels for a version."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import BumpPart, ManualVersion

if TYPE_CHECKING:
    from shipyard.usecases.tags import TagsResult


@app.command("tags")
def tags_command(
    ctx: typer.Context,
    manual: ManualVersion = None,
    bump: BumpPart = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Add 'latest' (never to a prerelease).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Print the image tags and OCI labels for this commit's version."""
    state = session(ctx)
    outputs = state.outputs()  # checked before any work: an unusable file stops it here
    config = state.config()
    from shipyard.usecases.tags import TagsOptions, plan_image_tags

    result = plan_image_tags(
        TagsOptions(manual=manual, bump=bump, latest=latest),
        config, state.git(config), state.actions(),
    )
    out = Out(as_json)
    for warning in (*result.version.warnings, *result.plan.warnings):
        out.warn(warning)
    publish_tags(result, outputs)
    if as_json:
        out.json(result.to_json())
    else:
        print_tags(result, out)


def print_tags(result: TagsResult, out: Out) -> None:
    """A table on a terminal; `tag X` and `label K=V` lines elsewhere."""
    if out.fancy:
        from rich.table import Table

        table = Table(title=f"tag plan for {result.version.decision.version}")
        table.add_column("kind")
        table.add_column("value")
        for tag in result.plan.tags:
            table.add_row("tag", tag)
        for key, value in result.plan.labels.items():
            table.add_row("label", f"{key}={value}")
        out.console().print(table)
        return
    for tag in result.plan.tags:
        out.line(f"tag {tag}")
    for key, value in result.plan.labels.items():
        out.line(f"label {key}={value}")


def publish_tags(result: TagsResult, outputs) -> None:
    outputs.set(tags=",".join(result.plan.tags))
    rows = "".join(f"| `{tag}` |\n" for tag in result.plan.tags)
    title = f"### Image tags for {result.version.decision.version}"
    outputs.summary(f"{title}\n\n| tag |\n|---|\n{rows}")
