"""`shipyard loadtest ENV`: a headless Locust run against the environment, judged by thresholds.

`plan_loadtest` settles everything before any request: the settings (`[loadtest]`, then
`[loadtest.environments.ENV]`, then the flags), the scenario file, and the URL, which is
`loadtest.url` or else the environment's `health.url`, filled in and judged as the health
check judges it (http(s), loopback or public addresses only, its name resolved). `run_loadtest`
runs Locust (`shipyard.adapters.locust_runner`), reads its JSON statistics, judges each
threshold, and writes the JSON summary and the plot beside Locust's HTML and CSV reports.
`enforce` turns a failed run into exit 17.

The scenario gets the environment Shipyard runs in without its credentials: it needs only
the URL, which it gets as Locust's host.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.adapters.http_probe import HttpProbe
from shipyard.adapters.locust_runner import (
    LocustFiles,
    LocustRun,
    last_line,
    locust_installed,
    run_locust,
)
from shipyard.config import Config, HealthSettings, LoadTestSettings
from shipyard.domain.loadtest import (
    Figures,
    ReportError,
    Thresholds,
    Verdict,
    figures_from_locust_json,
    history_from_csv,
    judge,
)
from shipyard.errors import ChecksFailedError, ConfigError, ShipyardError, UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.deploy.health import destination_refusal, health_url

SUMMARY_NAME, PLOT_NAME = "summary.json", "loadtest.png"
TUNABLE = ("users", "spawn_rate", "duration", "p95_ms", "p99_ms", "max_error_rate", "min_rps")
# Variables a scenario never gets: it needs the URL, not Shipyard's credentials.
_SECRET_NAME = re.compile(r"^(AWS_|LOCUST_)|(TOKEN|SECRET|PASSWORD|WEBHOOK|_KEY)", re.I)

Runner = Callable[..., LocustRun]


@dataclass(frozen=True)
class LoadTestOptions:
    """What the command line says; None keeps the configured value."""

    environment: str
    url: str | None = None
    reports_dir: Path | None = None
    tuned: Mapping[str, int | float | None] = field(default_factory=dict)  # TUNABLE names


@dataclass(frozen=True)
class LoadTestPlan:
    environment: str
    url: str
    scenario: Path
    users: int
    spawn_rate: float
    duration: int
    limits: Thresholds
    files: LocustFiles

    @property
    def summary_path(self) -> Path:
        return self.files.folder / SUMMARY_NAME

    @property
    def plot_path(self) -> Path:
        return self.files.folder / PLOT_NAME


@dataclass(frozen=True)
class LoadTestResult:
    plan: LoadTestPlan
    figures: Figures
    verdicts: list[Verdict]
    run: LocustRun
    problem: str = ""  # why the run itself did not complete ("" when it did)
    reports: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problem and all(v.passed for v in self.verdicts)

    def summary(self) -> dict[str, Any]:
        plan = self.plan
        return {"environment": plan.environment, "url": plan.url,
                "scenario": str(plan.scenario), "users": plan.users,
                "spawn_rate": plan.spawn_rate, "duration_s": plan.duration,
                "passed": self.passed, "problem": self.problem,
                "locust_exit_code": self.run.exit_code, "figures": self.figures.as_dict(),
                "thresholds": [v.as_dict() for v in self.verdicts], "reports": self.reports}


def plan_loadtest(config: Config, options: LoadTestOptions, env: Mapping[str, str]) -> LoadTestPlan:
    """Everything the run needs, checked; raises ConfigError or ShipyardError, having
    changed nothing."""
    settings = config.loadtest
    environment = config.environment(options.environment)  # names the ones that exist
    unknown = sorted(set(settings.environments) - set(config.environments))
    if unknown:
        raise ConfigError(f"loadtest.environments.{unknown[0]} names no environment "
                          f"(configured: {', '.join(sorted(config.environments))}); fix its "
                          "name or remove it")
    values = _values(settings, options)
    scenario = config.path(settings.scenario)
    if not scenario.is_file():
        raise ConfigError(f"loadtest.scenario: {scenario} is not a file; point it at the "
                          "locustfile (relative to the project folder)")
    template, key = _url(settings, options, environment.health)
    try:  # filled in and judged as the health check's URL is; the template is not re-checked
        url = health_url(HealthSettings.model_construct(url=template), env, key=key)
    except ConfigError as exc:
        if key == "--url":  # the command line's, not shipyard.toml's
            raise UsageError(exc.message) from None
        raise
    folder = options.reports_dir or config.path(settings.reports_dir) / options.environment
    if not locust_installed():
        raise ShipyardError("Locust is not installed where Shipyard runs; install it with "
                            "pip install 'shipyard[loadtest]'")
    limits = Thresholds(p95_ms=float(values["p95_ms"]), p99_ms=float(values["p99_ms"]),
                        max_error_rate=float(values["max_error_rate"]),
                        min_rps=float(values["min_rps"]))
    return LoadTestPlan(options.environment, url, scenario, int(values["users"]),
                        float(values["spawn_rate"]), int(values["duration"]), limits,
                        LocustFiles(folder))


def _values(settings: LoadTestSettings, options: LoadTestOptions) -> dict[str, int | float]:
    override = settings.environments.get(options.environment)
    values: dict[str, int | float] = {}
    for name in TUNABLE:
        chosen = options.tuned.get(name)
        if chosen is None and override is not None:
            chosen = getattr(override, name)
        values[name] = getattr(settings, name) if chosen is None else chosen
    return values


def _url(settings: LoadTestSettings, options: LoadTestOptions,
         health: HealthSettings | None) -> tuple[str, str]:
    """(the URL template, the key that names it in errors)."""
    override = settings.environments.get(options.environment)
    name = options.environment
    for value, key in ((options.url, "--url"),
                       (override.url if override else None, f"loadtest.environments.{name}.url"),
                       (settings.url, "loadtest.url"),
                       (health.url if health else None, f"environments.{name}.health.url")):
        if value:
            return value, key
    raise ConfigError(f"loadtest: no URL for {name}; set environments.{name}.health.url (or "
                      "loadtest.url), or pass --url")


def run_loadtest(plan: LoadTestPlan, context: Context, *, runner: Runner = run_locust,
                 probe: HttpProbe | None = None) -> LoadTestResult:
    """Run the plan and judge it; the reports are written whatever the verdict."""
    own = probe is None
    probe = probe or HttpProbe()
    try:
        refused = destination_refusal(plan.url, probe)
    finally:
        if own:
            probe.close()
    if refused:
        raise ConfigError(f"loadtest: {refused}")
    env = {k: v for k, v in context.env.items() if not _SECRET_NAME.search(k)}
    run = runner(locustfile=plan.scenario, host=plan.url, users=plan.users,
                 spawn_rate=plan.spawn_rate, duration=plan.duration, files=plan.files, env=env)
    figures, problem = _figures(plan, run)
    verdicts = judge(figures, plan.limits)
    result = LoadTestResult(plan, figures, verdicts, run, problem, _reports(plan))
    _write_plot(plan, result)
    plan.summary_path.write_text(json.dumps(result.summary(), indent=2) + "\n",
                                 encoding="utf-8")
    return result


def _figures(plan: LoadTestPlan, run: LocustRun) -> tuple[Figures, str]:
    files = plan.files
    problem = ""
    if run.killed:
        problem = (f"Locust did not finish within {run.bound:g}s and was stopped; its log: "
                   f"{files.log}")
    elif run.exit_code:
        said = last_line(files.log)
        problem = (f"Locust exited with code {run.exit_code}"
                   + (f" ({said})" if said else "") + f"; its log: {files.log}")
    try:
        return figures_from_locust_json(files.json.read_text(encoding="utf-8")), problem
    except (OSError, ReportError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        return (Figures(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
                problem or f"Locust's statistics {files.json} could not be read ({why}); "
                f"its log: {files.log}")


def _write_plot(plan: LoadTestPlan, result: LoadTestResult) -> None:
    from shipyard.adapters.loadtest_plot import plot_history  # matplotlib: only here

    try:
        moments = history_from_csv(plan.files.history_csv.read_text(encoding="utf-8"))
    except (OSError, ReportError):
        moments = []  # the plot says nothing was recorded; the summary says why
    verdict = "passed" if result.passed else "FAILED"
    plot_history(moments, plan.limits, plan.plot_path,
                 f"load test of {plan.environment}: {plan.users} users, {plan.duration}s, "
                 f"{verdict}")


def _reports(plan: LoadTestPlan) -> dict[str, str]:
    files = plan.files
    named = {"summary": plan.summary_path, "plot": plan.plot_path, "html": files.html,
             "stats_csv": files.stats_csv, "history_csv": files.history_csv,
             "failures_csv": files.failures_csv, "locust_json": files.json, "log": files.log}
    return {name: str(path) for name, path in named.items()
            if path.exists() or name in ("summary", "plot")}


def enforce(result: LoadTestResult) -> None:
    """Exit 17 (ChecksFailedError) unless the run completed and met every threshold."""
    if result.passed:
        return
    failed = [v.says for v in result.verdicts if not v.passed]
    reason = result.problem or "; ".join(failed)
    raise ChecksFailedError(f"the load test of {result.plan.environment} failed: {reason}; "
                            f"the reports are in {result.plan.files.folder}")

