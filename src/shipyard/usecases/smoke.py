"""`shipyard smoke ENV`: the API checks of `[smoke]`, made in order against ENV's URL.

The URL is the environment's health URL (`environments.NAME.health.url`), filled in and judged
as the health check does (`shipyard.domain.health_url`: http(s), loopback or public addresses
only), and the requests go through the same adapter (`HttpProbe`: no redirects followed, no
proxies, bounded reads). Each check sends one request and passes when its answer has the
expected status, each of its JSON `fields` equals the configured value, its `version_field`
equals the deployed version, and it came within its latency bound.

Bounds: each request gets `timeout` seconds, the run `total_timeout` (checks left when it is
spent fail without a request), and a 502 or 503 is asked again at most `retries` times after
0.5, 1, 2... s. Nothing else is retried: a smoke test reports what users would see.

The deployed version is `--version` when given, else read as `shipyard status` reads it (the
running task definition's image and its version label), and only when a check needs it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipyard.adapters.http_probe import Answer, HttpProbe, ProbeFailed
from shipyard.config import Config, SmokeCheck, SmokeSettings
from shipyard.domain.json_fields import find, json_equal, parse_path
from shipyard.domain.junit import Case, junit_xml
from shipyard.errors import ConfigError, NotFoundError, UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.deploy.health import destination_refusal, health_url

BODY_LIMIT = 1024 * 1024  # an API check's answer is small; more is cut and named
RETRIED = (502, 503)  # a load balancer between targets, a task still starting
FIRST_PAUSE = 0.5
MIN_REQUEST_TIMEOUT = 0.1  # less than this left of the total: the check is not run
SHOWN = 80  # characters of a value quoted in a failure


@dataclass(frozen=True)
class CheckResult:
    name: str
    method: str
    path: str  # as sent: {run} filled in
    expected_status: int
    max_latency: float
    status: int | None = None  # None: no answer
    seconds: float | None = None  # the last request's, from sending to the last byte
    attempts: int = 0
    failures: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class SmokeResult:
    environment: str
    url: str
    version: str  # the version the checks expect ("" when none needs it)
    version_from: str  # "--version", "status", or "" when not read
    run: str  # the id {run} stood for
    started: str  # UTC, ISO 8601
    seconds: float
    checks: tuple[CheckResult, ...] = field(default=())

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "url": self.url, "version": self.version,
                "version_from": self.version_from, "run": self.run, "started": self.started,
                "seconds": round(self.seconds, 3), "passed": not self.failed,
                "total": len(self.checks), "failed": len(self.failed),
                "checks": [{"name": c.name, "method": c.method, "path": c.path,
                            "passed": c.passed, "status": c.status,
                            "expected_status": c.expected_status,
                            "seconds": None if c.seconds is None else round(c.seconds, 3),
                            "max_latency": c.max_latency, "attempts": c.attempts,
                            "failures": list(c.failures)} for c in self.checks]}

    def markdown(self) -> str:
        """The GitHub job summary: a heading and one table row per check."""
        verdict = "passed" if not self.failed else f"{len(self.failed)} failed"
        rows = [f"| {'ok' if c.passed else 'FAIL'} | {_cell(c.name)} | {c.method} "
                f"{_cell(c.path)} | {'-' if c.status is None else c.status} | "
                f"{'-' if c.seconds is None else f'{c.seconds * 1000:.0f} ms'} | "
                f"{_cell('; '.join(c.failures))} |" for c in self.checks]
        count = f"{len(self.checks)} check{'s' * (len(self.checks) != 1)}"
        return "\n".join([f"### shipyard smoke {self.environment}: {count} {verdict}", "",
                          f"{self.url}, run {self.run}", "",
                          "| | check | request | status | time | why |",
                          "|---|---|---|---|---|---|", *rows])

    def junit(self) -> str:
        return junit_xml(f"shipyard smoke {self.environment}",
                         [Case(c.name, f"smoke.{self.environment}", c.seconds or 0.0,
                               c.failures) for c in self.checks], self.started)


def run_smoke(environment: str, config: Config, ctx: Context, *, version: str | None = None,
              http: HttpProbe | None = None, run_id: str | None = None) -> SmokeResult:
    """Make ENV's checks. Raises before any request: ConfigError when there is nothing to
    check or nowhere to send it, UsageError for a bad `version`, NotFoundError when the
    version ENV runs cannot be read. A check that fails is a result, not an error."""
    settings = config.smoke
    url, key = _url(environment, config, ctx.env)
    if not settings.checks:
        raise ConfigError(f"{_where(config)} has no [[smoke.checks]]; add one per request "
                          "to check (see the README's \"shipyard smoke ENV\")")
    expected, source = _expected_version(environment, version, config, ctx)
    probe = http or HttpProbe()
    try:
        refused = destination_refusal(url, probe)
        if refused:
            raise ConfigError(f"{key}: {refused}")
        run = run_id or f"smoke-{uuid.uuid4().hex[:12]}"
        started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        began = ctx.clock()
        deadline = began + settings.total_timeout
        results = tuple(_check(check, settings, url, run, expected, probe, ctx, deadline)
                        for check in settings.checks)
        return SmokeResult(environment, url, expected, source, run, started,
                           ctx.clock() - began, results)
    finally:
        if http is None:
            probe.close()


def _where(config: Config) -> str:
    return str(config.source_file or config.project_dir / "shipyard.toml")


def _url(environment: str, config: Config, env: Mapping[str, str]) -> tuple[str, str]:
    settings = config.environment(environment)
    key = f"environments.{environment}.health.url"
    if settings.health is None:
        raise ConfigError(f"{key} is not set in {_where(config)}; smoke reaches the service "
                          f"at its health URL: add [environments.{environment}.health] with "
                          "url = \"https://...\"")
    return health_url(settings.health, env, key=key), key


def _expected_version(environment: str, version: str | None, config: Config,
                      ctx: Context) -> tuple[str, str]:
    if not any(check.version_field for check in config.smoke.checks):
        return "", ""
    if version is not None:
        from shipyard.usecases.version import parse_manual

        return str(parse_manual(version)), "--version"
    return deployed_version(environment, config, ctx), "status"


def deployed_version(environment: str, config: Config, ctx: Context) -> str:
    """The version label of the image ENV's service runs, read as `shipyard status` reads it.
    Raises when it cannot be told: a version check against nothing would prove nothing."""
    from shipyard.usecases.status import image_facts, main_container

    settings = config.environment(environment)
    service = ctx.ecs.service(settings.cluster, settings.service)
    if service is None:
        raise NotFoundError(f"service {settings.service} is not in cluster {settings.cluster}; "
                            f"deploy {environment} first, or pass --version")
    definition = ctx.ecs.task_definition(str(service.get("taskDefinition", "")))
    image = str(main_container(definition, settings).get("image", ""))
    _, served, note = image_facts(image, definition, config, ctx)
    if not served:
        raise NotFoundError(f"the version {environment} runs is not known ({note}); pass "
                            "--version with the version deployed")
    return served


def _check(check: SmokeCheck, settings: SmokeSettings, base: str, run: str, version: str,
           probe: HttpProbe, ctx: Context, deadline: float) -> CheckResult:
    path = check.path.replace("{run}", run)
    latency = check.max_latency or settings.max_latency
    result = CheckResult(check.name or f"{check.method} {check.path}", check.method, path,
                         check.status, latency)
    headers = dict(check.headers)
    body = None
    if check.body is not None:
        body = json.dumps(_fill(check.body, run)).encode()
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    pause = FIRST_PAUSE
    answer: Answer | None = None
    attempt = 0
    while attempt <= settings.retries:
        left = deadline - ctx.clock()
        if left < MIN_REQUEST_TIMEOUT:
            break  # a retry the bound leaves no time for: the last answer stands
        attempt += 1
        try:
            answer = probe.request(check.method, base.rstrip("/") + path,
                                   timeout=min(settings.timeout, left), limit=BODY_LIMIT,
                                   headers=headers, body=body)
        except ProbeFailed as failed:
            return _with(result, attempt, (failed.what,))
        if answer.status not in RETRIED or attempt > settings.retries:
            break
        ctx.sleep(max(0.0, min(pause, deadline - ctx.clock())))
        pause *= 2
    if answer is None:
        return _with(result, 0, (f"not run: the total time bound of "
                                 f"{settings.total_timeout:g}s was spent",))
    return _with(result, attempt, tuple(_judge(check, answer, latency, version, run)),
                 answer.status, answer.seconds)


def _with(result: CheckResult, attempts: int, failures: tuple[str, ...],
          status: int | None = None, seconds: float | None = None) -> CheckResult:
    return replace(result, attempts=attempts, failures=failures, status=status,
                   seconds=seconds)


def _fill(value: Any, run: str) -> Any:
    """`value` with {run} replaced in every string it holds."""
    if isinstance(value, str):
        return value.replace("{run}", run)
    if isinstance(value, list):
        return [_fill(item, run) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, run) for key, item in value.items()}
    return value


def _judge(check: SmokeCheck, answer: Answer, latency: float, version: str,
           run: str) -> list[str]:
    """What is wrong with `answer` ([] when the check passes)."""
    failures = []
    if answer.status != check.status:
        failures.append(f"status {answer.status} {answer.reason}".rstrip()
                        + f", expected {check.status}")
    if answer.seconds > latency:
        failures.append(f"took {answer.seconds:.3f}s, over the {latency:g}s bound")
    wanted = _fill(dict(check.fields), run)
    if check.version_field:
        wanted[check.version_field] = version
    if not wanted:
        return failures
    if len(answer.body) > BODY_LIMIT:
        return [*failures, f"the answer is larger than {BODY_LIMIT // 1024} KiB; its fields "
                "are not read"]
    try:
        document = json.loads(answer.body)
    except ValueError:
        return [*failures, f"the answer is not JSON ({_shown(answer.body)}), so "
                f"{', '.join(wanted)} cannot be read"]
    for name, value in wanted.items():
        what = f"the deployed version {version}" if name == check.version_field \
            and name not in check.fields else _shown(value)
        found, served = find(document, parse_path(name))
        if not found:
            failures.append(f"{name} is missing, expected {what}")
        elif not (json_equal(served, value) or _same_version(served, value, what)):
            failures.append(f"{name} is {_shown(served)}, expected {what}")
    return failures


def _same_version(served: Any, version: Any, what: str) -> bool:
    """A served version with build metadata matches its tag's spelling: tags cannot hold
    semver's `+`, so Shipyard writes it `-` there, and --version may come from a tag."""
    return what.startswith("the deployed version") and isinstance(served, str) and \
        served.replace("+", "-") == str(version).replace("+", "-")


def _cell(text: str) -> str:
    # a table cell is one line, and `|` would end it
    return " ".join(text.replace("|", "\\|").split())


def _shown(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else json.dumps(value)
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


def check_report_paths(*paths: Path | None) -> None:
    """Before any request: each report path can be a file (not a folder, nor under a file)."""
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            raise UsageError(f"report path {path} is a folder; name a file in it")
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise UsageError(f"report path {path} is under {parent}, which is a file; name "
                             "a path in a folder")


def write_reports(result: SmokeResult, json_path: Path | None, junit_path: Path | None) -> None:
    """Write the JSON and JUnit reports that were asked for (each whole, or not at all)."""
    from shipyard.adapters.files import write_atomically

    if json_path is not None:
        write_atomically(json_path, json.dumps(result.to_json(), indent=2) + "\n")
    if junit_path is not None:
        write_atomically(junit_path, result.junit())
