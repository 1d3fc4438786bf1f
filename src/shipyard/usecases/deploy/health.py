"""The health check after a successful deploy: the service answers through its URL, and
serves the version just deployed.

One attempt GETs each of `paths` (each must answer 2xx) and then `version_path`, whose JSON
field `version_field` must equal the deployed version. Attempts repeat, with growing pauses,
until one passes or `timeout` seconds (on the injected clock) are spent, at most
MAX_ATTEMPTS times: right after a deploy a load balancer may still be draining the old tasks,
and a new task may still be warming up. Where the URL leads is judged before each attempt
(`shipyard.domain.health_url`): a refused URL or address ends the check at once, without a
request. `lines` say what was checked and what answered; an answer that repeats is said once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shipyard.adapters.http_probe import Answer, HttpProbe, ProbeFailed
from shipyard.config import HealthSettings
from shipyard.domain.health_url import address_refusal, expand_url, refusal_line, url_refusal
from shipyard.errors import ConfigError

REQUEST_TIMEOUT = 5.0  # seconds for one request: a healthy endpoint answers far sooner
MIN_REQUEST_TIMEOUT = 0.5  # the last attempt still gets a fair chance
MAX_ATTEMPTS = 60
FIRST_PAUSE, MAX_PAUSE = 0.5, 5.0  # seconds between attempts, doubling
VERSION_BODY_LIMIT = 64 * 1024  # a version endpoint answers a small JSON object


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    lines: list[str] = field(default_factory=list)
    reason: str = ""  # why it failed ("" when ok)


@dataclass(frozen=True)
class _Check:
    """One URL of an attempt and what its answer must be."""

    url: str
    version: str | None = None  # the version the JSON must name; None: any 2xx answer
    json_field: str = "version"  # the JSON field that names it


def health_url(settings: HealthSettings, env: Mapping[str, str], *,
               key: str = "health.url") -> str:
    """The URL the check will ask, judged now: for `deploy` to call before its first write,
    so that an unset variable or a refused address stops it before anything changed rather
    than failing a deployment that succeeded. Raises ConfigError naming `key`."""
    url = expand_url(key, settings.url, env)
    refused = url_refusal(url)
    if refused:
        raise ConfigError(f"{key}: {refusal_line(url, refused)}")
    return url


def check_health(settings: HealthSettings, version: str, env: Mapping[str, str], *,
                 clock: Callable[[], float], sleep: Callable[[float], None],
                 http: HttpProbe | None = None, key: str = "health.url") -> HealthResult:
    """Check the service as `settings` say; `version` "" skips the version check. Raises
    ConfigError (naming `key`) when the URL cannot be filled in; every other failure is a
    HealthResult that says why."""
    base = expand_url(key, settings.url, env)
    refused = url_refusal(base)
    if refused:
        line = refusal_line(base, refused)
        return HealthResult(False, [line], line)
    checks, lines = _plan(settings, base, version)
    if not checks:  # the deploy's own verdict stands; nothing here adds to it
        return HealthResult(True, [*lines, "nothing was checked: paths is empty"])
    probe = http or HttpProbe()
    try:
        return _attempts(checks, lines, settings.timeout, probe, clock, sleep)
    finally:
        if http is None:
            probe.close()


def _plan(settings: HealthSettings, base: str, version: str) -> tuple[list[_Check], list[str]]:
    root = base.rstrip("/")
    checks = [_Check(root + "/" + path.lstrip("/")) for path in settings.paths]
    said = ", ".join(settings.paths) or "no paths"
    skipped = ("version_path is empty" if not settings.version_path else
               "the deployed version is not known" if not version else "")
    if not skipped:
        checks.append(_Check(root + "/" + settings.version_path.lstrip("/"), version,
                             settings.version_field))
        said += f", and {settings.version_field!r} of {settings.version_path} = {version}"
    lines = [f"the served version is not checked: {skipped}"] if skipped else []
    return checks, [f"health check of {root} (within {settings.timeout:g}s): {said}", *lines]


def _attempts(checks: list[_Check], lines: list[str], timeout: float, probe: HttpProbe,
              clock: Callable[[], float], sleep: Callable[[float], None]) -> HealthResult:
    started = clock()
    deadline = started + timeout
    pause = FIRST_PAUSE
    said: dict[str, str] = {}  # the last answer said for each URL
    failure = "nothing was checked"
    attempt = 0
    while attempt < MAX_ATTEMPTS:
        attempt += 1
        refused = _where_it_leads(checks, probe)
        if refused:
            lines.append(refused)
            return HealthResult(False, lines, refused)
        failure = ""
        for check in checks:
            request_timeout = max(MIN_REQUEST_TIMEOUT, min(REQUEST_TIMEOUT, deadline - clock()))
            answer, problem = _ask(probe, check, request_timeout)
            if said.get(check.url) != answer:
                lines.append(f"GET {check.url}: {answer}")
                said[check.url] = answer
            if problem:
                failure = f"GET {check.url}: {problem}"
                break  # the next attempt starts over; a failing service is not asked more
        if not failure:
            lines.append(f"health check passed (attempt {attempt}, "
                         f"{clock() - started:.1f}s)")
            return HealthResult(True, lines)
        left = deadline - clock()
        if left <= 0:
            break
        sleep(min(pause, left))
        pause = min(pause * 2, MAX_PAUSE)
    reason = (f"the health check failed after {attempt} attempt{'s' * (attempt != 1)} in "
              f"{clock() - started:.1f}s: {failure}")
    lines.append(reason)
    return HealthResult(False, lines, reason)


def _where_it_leads(checks: list[_Check], probe: HttpProbe) -> str:
    return destination_refusal(checks[0].url, probe) if checks else ""


def destination_refusal(url: str, probe: HttpProbe) -> str:
    """A refusal line when `url`'s host resolves to an address not to contact, else "".
    A name that does not resolve is left to the request, which fails and is retried. The
    request resolves the name again; a DNS answer that changes in between is not caught, a
    limit accepted for a URL that the project's own shipyard.toml names."""
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = probe.addresses(parts.hostname, port)
    except ProbeFailed:
        return ""
    for address in addresses:
        why = address_refusal(address)
        if why:
            return refusal_line(url, f"{parts.hostname} resolves to {why}")
    return ""


def _ask(probe: HttpProbe, check: _Check, timeout: float) -> tuple[str, str]:
    """(what answered, what is wrong with it: "" when it passes)."""
    limit = VERSION_BODY_LIMIT if check.version is not None else 0
    try:
        answer = probe.get(check.url, timeout=timeout, limit=limit)
    except ProbeFailed as exc:
        return exc.what, exc.what
    said = f"{answer.status} {answer.reason}".strip()
    if 300 <= answer.status < 400:
        said += f" to {answer.location or '(no Location)'}, not followed"
        return said, f"answered {said}; point the health URL at the final address"
    if not 200 <= answer.status < 300:
        return said, f"answered {said}"
    if check.version is None:
        return said, ""
    served, problem = served_version(answer, check.json_field)
    if problem:
        return f"{said}, {problem}", problem
    if served != check.version:
        return (f"{said}, version {served} (expected {check.version})",
                f"serves version {served}, not {check.version}")
    return f"{said}, version {served}", ""


def served_version(answer: Answer, name: str) -> tuple[str, str]:
    """(the version the JSON answer names, what is wrong with the answer: "" if nothing)."""
    if len(answer.body) > VERSION_BODY_LIMIT:
        return "", f"an answer larger than {VERSION_BODY_LIMIT // 1024} KiB, not a version"
    try:
        document = json.loads(answer.body)
    except ValueError:
        return "", "not JSON"
    value = document.get(name) if isinstance(document, dict) else None
    if not isinstance(value, str) or not value:
        return "", f"JSON without a {name!r} string"
    return value, ""
