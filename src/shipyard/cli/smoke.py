"""`shipyard smoke ENV`: the API checks of [smoke] against ENV; a table, JSON and JUnit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import Environment

ReportPath = Annotated[Path | None, typer.Option(
    "--report-json", help="Write the JSON report here (also when checks fail).",
    show_default=False)]
JunitPath = Annotated[Path | None, typer.Option(
    "--junit", help="Write a JUnit XML report here, one testcase per check.",
    show_default=False)]
DeployedVersion = Annotated[str | None, typer.Option(
    "--version", help="The version the service must serve (default: the one ENV runs, read "
    "as `shipyard status` does).", show_default=False)]


@app.command("smoke")
def smoke_command(ctx: typer.Context, environment: Environment,
                  version: DeployedVersion = None, report_json: ReportPath = None,
                  junit: JunitPath = None, as_json: JsonFlag = False) -> None:
    """Check ENV's API as [[smoke.checks]] say: status, JSON fields, the served version and
    latency of each request. Exit 17 when a check fails."""
    from shipyard.errors import ChecksFailedError
    from shipyard.usecases.smoke import check_report_paths, run_smoke, write_reports

    check_report_paths(report_json, junit)
    state = session(ctx)
    outputs = state.outputs()  # the job summary, checked before any request
    config = state.config()
    result = run_smoke(environment, config, state.context(config), version=version)
    out = Out(as_json)
    if as_json:
        out.json(result.to_json())
    else:
        for line in smoke_lines(result):
            out.line(line)
    write_reports(result, report_json, junit)
    outputs.summary(result.markdown())  # in GitHub Actions: the table on the run's page
    for path in (report_json, junit):
        if path is not None:
            out.info(f"wrote {path}")
    if result.failed:
        names = ", ".join(check.name for check in result.failed)
        raise ChecksFailedError(f"{len(result.failed)} of {len(result.checks)} smoke checks "
                                f"of {environment} failed: {names}; the report says why")


def smoke_lines(result: Any) -> list[str]:
    """The result as a table of plain lines: one row per check, its failures below it."""
    expected = f", version {result.version} ({result.version_from})" if result.version else ""
    lines = [f"smoke {result.environment}: {result.url}{expected}, run {result.run}"]
    rows = [("", "CHECK", "STATUS", "TIME", "")]
    for check in result.checks:
        status = "-" if check.status is None else str(check.status)
        took = "-" if check.seconds is None else f"{check.seconds * 1000:.0f}ms"
        retried = f" ({check.attempts} tries)" if check.attempts > 1 else ""
        rows.append(("ok" if check.passed else "FAIL", check.name, status, took, retried))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
                     .rstrip() + row[4])
        check = result.checks[index - 1] if index else None
        if check is not None:
            lines += [f"      {failure}" for failure in check.failures]
    lines.append(f"{len(result.checks) - len(result.failed)} passed, {len(result.failed)} "
                 f"failed in {result.seconds:.1f}s")
    return lines
