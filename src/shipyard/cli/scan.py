"""`shipyard scan IMAGE`: scan an image in ECR and gate it on its findings."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session

if TYPE_CHECKING:
    from shipyard.adapters.github import GitHubOutputs
    from shipyard.usecases.scan import ScanResult


@app.command("scan")
def scan_command(
    ctx: typer.Context,
    image: Annotated[str, typer.Argument(help="A tag or sha256 digest in the repository.")],
    threshold: Annotated[str | None, typer.Option(
        help="Fail at this severity or above (default: scan.threshold).",
        show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Scan an image in ECR (each platform of an index) and gate on its findings."""
    from shipyard.cli.options import image_reference
    from shipyard.domain.scan_policy import GATE_SEVERITIES
    from shipyard.errors import UsageError
    from shipyard.usecases.scan import enforce_gate, scan_image, scan_options_from_config
    from shipyard.usecases.target import resolve_target

    image_reference(image)
    if threshold is not None and threshold.upper() not in GATE_SEVERITIES:
        raise UsageError(f"--threshold {threshold!r} is not a severity; use one of "
                         f"{', '.join(GATE_SEVERITIES)}")
    state = session(ctx)
    outputs = state.outputs()  # checked before any work: an unusable file stops it here
    config = state.config()
    context = state.context(config)
    target = resolve_target(config, context)
    options = scan_options_from_config(config, target.repository, image)
    if threshold is not None:
        options = replace(options, threshold=threshold.upper())
    out = Out(as_json)
    result = scan_image(options, context)
    publish_scan(result, outputs)
    if as_json:
        out.json(result.summary())
    else:
        print_scan(result, out)
    enforce_gate(result)


def print_scan(scan: ScanResult, out: Out) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in scan.decision.counts.items()) or "no findings"
    reused = " (reused existing findings)" if any(s.reused for s in scan.scans) else ""
    out.line(f"scan {'passed' if scan.decision.passed else 'FAILED'} at threshold "
             f"{scan.decision.threshold}: {counts}{reused}")
    for path in scan.reports:
        out.line(f"report {path}")


def publish_scan(scan: ScanResult, outputs: GitHubOutputs) -> None:
    """The gate's outcome and severity counts in the job summary; `scan-passed` as output."""
    decision = scan.decision
    outputs.set(**{"scan-passed": str(decision.passed).lower()})
    rows = "".join(f"| {severity} | {count} |\n" for severity, count in decision.counts.items())
    rows = rows or "| none | 0 |\n"
    verdict = "passed" if decision.passed else "FAILED"
    outputs.summary(f"### Scan {verdict} (threshold {decision.threshold})\n\n"
                    f"`{scan.image}`\n\n| severity | findings |\n|---|---|\n"
                    f"{rows}")
