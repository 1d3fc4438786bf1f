"""`shipyard loadtest ENV`: a headless Locust run against ENV, judged by thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import Environment

if TYPE_CHECKING:
    from shipyard.adapters.github import GitHubOutputs
    from shipyard.usecases.loadtest import LoadTestResult


def _option(help_text: str, **limits: float) -> typer.models.OptionInfo:
    return typer.Option(help=help_text, show_default=False, **limits)


@app.command("loadtest")
def loadtest_command(
    ctx: typer.Context,
    environment: Environment,
    url: Annotated[str | None, typer.Option(
        help="The service's URL (default: loadtest.url, else the environment's health.url).",
        show_default=False)] = None,
    users: Annotated[int | None, _option("Peak concurrent users.", min=1, max=10000)] = None,
    spawn_rate: Annotated[float | None, _option("Users started a second.", min=0.001,
                                                 max=1000)] = None,
    duration: Annotated[int | None, _option("Seconds the run lasts.", min=1, max=3600)] = None,
    p95_ms: Annotated[float | None, _option("Fail when p95 latency is over this (ms).",
                                            min=0.001)] = None,
    p99_ms: Annotated[float | None, _option("Fail when p99 latency is over this (ms).",
                                            min=0.001)] = None,
    max_error_rate: Annotated[float | None, _option(
        "Fail when the share of failed requests is over this (0.01 is 1%).", min=0,
        max=1)] = None,
    min_rps: Annotated[float | None, _option("Fail under this many requests a second.",
                                             min=0)] = None,
    reports_dir: Annotated[Path | None, typer.Option(
        help="Where the reports go (default: loadtest.reports_dir/ENV).",
        show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Load-test ENV with Locust (the scenario in loadtest.scenario); exit 17 when a
    threshold (p95, p99, error rate, requests/s) is not met. Writes Locust's HTML and CSV
    reports, summary.json and a PNG plot."""
    from shipyard.usecases.loadtest import (
        LoadTestOptions,
        enforce,
        plan_loadtest,
        run_loadtest,
    )

    state = session(ctx)
    outputs = state.outputs()  # checked before any work: an unusable file stops it here
    config = state.config()
    tuned = {"users": users, "spawn_rate": spawn_rate, "duration": duration,
             "p95_ms": p95_ms, "p99_ms": p99_ms, "max_error_rate": max_error_rate,
             "min_rps": min_rps}
    options = LoadTestOptions(environment, url=url, reports_dir=reports_dir, tuned=tuned)
    plan = plan_loadtest(config, options, state.env)
    out = Out(as_json)
    if not as_json:
        out.line(f"load test of {plan.environment} at {plan.url}: {plan.users} users "
                 f"(+{plan.spawn_rate:g}/s) for {plan.duration}s, scenario {plan.scenario}")
    result = run_loadtest(plan, state.context(config))
    publish_loadtest(result, outputs)
    if as_json:
        out.json(result.summary())
    else:
        for line in loadtest_lines(result):
            out.line(line)
    enforce(result)


def loadtest_lines(result: LoadTestResult) -> list[str]:
    figures = result.figures
    lines = [f"{figures.requests} requests in {figures.seconds:.1f}s, "
             f"{figures.failures} failed; p50 {figures.p50_ms:g} ms, "
             f"p95 {figures.p95_ms:g} ms, p99 {figures.p99_ms:g} ms"]
    lines += [f"  {'pass' if v.passed else 'FAIL'}  {v.says}" for v in result.verdicts]
    if result.problem:
        lines.append(result.problem)
    lines.append(f"load test {'passed' if result.passed else 'FAILED'}")
    lines += [f"{name} {path}" for name, path in result.reports.items()]
    return lines


def publish_loadtest(result: LoadTestResult, outputs: GitHubOutputs) -> None:
    """`loadtest-passed` and the summary's path as outputs; the verdicts, each endpoint's
    figures and the plot's path in the job summary."""
    from shipyard.domain.loadtest import markdown

    outputs.set(**{"loadtest-passed": str(result.passed).lower(),
                   "loadtest-summary": str(result.plan.summary_path)})
    verdict = "passed" if result.passed else "FAILED"
    text = markdown(f"Load test of {result.plan.environment} {verdict}", result.figures,
                    result.verdicts)
    if result.problem:
        text += f"\n{result.problem}\n"
    outputs.summary(text + f"\nPlot: `{result.plan.plot_path}` (latency percentiles and "
                    f"throughput over time); reports in `{result.plan.files.folder}`\n")
