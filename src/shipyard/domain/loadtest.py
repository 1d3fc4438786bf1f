"""A load test's figures, read from Locust's reports, and the thresholds that judge them.

The figures come from Locust's JSON statistics (`--json-file`), written once when the run
ends, after the users stopped: its CSV statistics are rewritten each second while the run
goes on and may miss the last second. Per endpoint it holds the request and failure counts
and a histogram of response times (milliseconds, rounded as Locust rounds them), from which
the percentiles are computed the way Locust computes them (`percentile`), so the figures
equal the ones its HTML report and console print.

The throughput over time comes from the stats history CSV (`--csv`), one `Aggregated` row a
second: its percentiles cover Locust's last ten seconds, `N/A` before the first answer.

>>> figures = figures_from_locust_json('[{"name": "/health", "method": "GET", '
...     '"num_requests": 4, "num_failures": 1, "start_time": 10.0, '
...     '"last_request_timestamp": 12.0, "response_times": {"5": 3, "40": 1}}]')
>>> figures.requests, figures.error_rate, figures.rps, figures.p95_ms
(4, 0.25, 2.0, 40.0)
>>> [v.passed for v in judge(figures, Thresholds(p95_ms=50, p99_ms=50, max_error_rate=0.1,
...                                                min_rps=1))]
[True, True, True, False, True]
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class ReportError(ValueError):
    """A Locust report is not what this version of Locust writes; the message says how."""


@dataclass(frozen=True)
class Endpoint:
    """One row of Locust's statistics: a method and a request name."""

    method: str
    name: str
    requests: int
    failures: int
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Figures:
    """The whole run: every endpoint together, as Locust's `Aggregated` row."""

    requests: int
    failures: int
    rps: float  # requests a second, from the first request to the last answer
    seconds: float
    avg_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "failures": self.failures,
                "error_rate": round(self.error_rate, 6), "rps": round(self.rps, 3),
                "seconds": round(self.seconds, 3), "avg_ms": round(self.avg_ms, 3),
                "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "p99_ms": self.p99_ms,
                "max_ms": self.max_ms,
                "endpoints": [{"method": e.method, "name": e.name, "requests": e.requests,
                               "failures": e.failures, "p95_ms": e.p95_ms, "p99_ms": e.p99_ms}
                              for e in self.endpoints]}


@dataclass(frozen=True)
class Thresholds:
    p95_ms: float
    p99_ms: float
    max_error_rate: float  # a fraction: 0.01 is 1%
    min_rps: float


@dataclass(frozen=True)
class Verdict:
    """One threshold's judgement: `says` is the line a person reads."""

    name: str
    limit: float
    value: float
    passed: bool
    says: str = field(default="", compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "limit": self.limit, "value": self.value,
                "passed": self.passed, "says": self.says}


def percentile(histogram: Mapping[int, int], count: int, fraction: float) -> int:
    """The response time `fraction` of the `count` requests finished within: Locust's own
    rule (`locust.stats.calculate_response_time_percentile`), from the slowest down."""
    wanted = int(count * fraction)
    seen = 0
    for millis in sorted(histogram, reverse=True):
        seen += histogram[millis]
        if count - seen <= wanted:
            return millis
    return 0


def figures_from_locust_json(text: str) -> Figures:
    """The figures of Locust's `--json-file` report. Raises ReportError when it is not one."""
    try:
        entries = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"not JSON ({exc})") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ReportError("not a list of statistics entries")
    endpoints, total = [], _Sum()
    for entry in entries:
        one = _Sum()
        one.add(entry)
        total.add(entry)
        endpoints.append(Endpoint(str(entry.get("method") or ""), str(entry.get("name") or ""),
                                  one.requests, one.failures, one.at(0.95), one.at(0.99)))
    seconds = max(0.0, total.last - total.start) if total.requests else 0.0
    return Figures(requests=total.requests, failures=total.failures,
                   rps=total.requests / seconds if seconds > 0 else 0.0, seconds=seconds,
                   avg_ms=total.response_time / total.requests if total.requests else 0.0,
                   p50_ms=total.at(0.5), p95_ms=total.at(0.95), p99_ms=total.at(0.99),
                   max_ms=round(total.max_ms, 3), endpoints=tuple(endpoints))


class _Sum:
    """Entries added together, as Locust's `Aggregated` row adds them."""

    def __init__(self) -> None:
        self.requests = self.failures = 0
        self.response_time = self.max_ms = 0.0
        self.start, self.last = math.inf, 0.0
        self.histogram: dict[int, int] = {}

    def add(self, entry: dict[str, Any]) -> None:
        requests, failures = _count(entry, "num_requests"), _count(entry, "num_failures")
        self.requests += requests
        self.failures += failures
        self.response_time += _number(entry, "total_response_time", 0.0)
        self.max_ms = max(self.max_ms, _number(entry, "max_response_time", 0.0))
        if requests:
            self.start = min(self.start, _number(entry, "start_time"))
            self.last = max(self.last, _number(entry, "last_request_timestamp"))
        times = entry.get("response_times", {})
        if not isinstance(times, dict):
            raise ReportError(f"{entry.get('name')!r}: response_times is not an object")
        for millis, count in times.items():
            try:
                key, value = int(float(millis)), int(count)
            except (TypeError, ValueError):
                raise ReportError(f"{entry.get('name')!r}: response time {millis!r}: "
                                  f"{count!r} is not a number") from None
            self.histogram[key] = self.histogram.get(key, 0) + value

    def at(self, fraction: float) -> float:
        return float(percentile(self.histogram, self.requests, fraction))


def _count(entry: dict[str, Any], key: str) -> int:
    value = entry.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReportError(f"{entry.get('name')!r}: {key} is {value!r}, not a count")
    return value


def _number(entry: dict[str, Any], key: str, default: float | None = None) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ReportError(f"{entry.get('name')!r}: {key} is {value!r}, not a number")
    return float(value)


def judge(figures: Figures, limits: Thresholds) -> list[Verdict]:
    """Each threshold's verdict. A run that measured no request fails them all: no figure
    of it says anything about the service."""
    if not figures.requests:
        nothing = "no request was answered or failed: nothing was measured"
        return [Verdict(name, limit, 0.0, False, f"{name}: {nothing}")
                for name, limit in (("requests", 1), ("p95_ms", limits.p95_ms),
                                    ("p99_ms", limits.p99_ms),
                                    ("error_rate", limits.max_error_rate),
                                    ("rps", limits.min_rps))]
    return [
        Verdict("requests", 1, figures.requests, True, f"{figures.requests} requests"),
        _at_most("p95_ms", figures.p95_ms, limits.p95_ms, "p95 latency {v:g} ms",
                 "{l:.10g} ms"),
        _at_most("p99_ms", figures.p99_ms, limits.p99_ms, "p99 latency {v:g} ms",
                 "{l:.10g} ms"),
        _at_most("error_rate", figures.error_rate, limits.max_error_rate,
                 f"error rate {{v:.2%}} ({figures.failures} of {figures.requests})", "{l:.2%}"),
        Verdict("rps", limits.min_rps, round(figures.rps, 3), figures.rps >= limits.min_rps,
                f"{figures.rps:.1f} requests/s "
                + (f"(at least {limits.min_rps:.10g})" if figures.rps >= limits.min_rps else
                   f"is below the minimum {limits.min_rps:.10g}")),
    ]


def _at_most(name: str, value: float, limit: float, what: str, limit_form: str) -> Verdict:
    passed = value <= limit
    said = what.format(v=value) + (" (at most " if passed else " is over the limit ")
    return Verdict(name, limit, round(value, 6), passed,
                   said + limit_form.format(l=limit) + (")" if passed else ""))


@dataclass(frozen=True)
class Moment:
    """One second of the stats history: None where Locust wrote N/A (nothing answered yet)."""

    timestamp: float
    users: int
    rps: float
    failures_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def history_from_csv(text: str) -> list[Moment]:
    """The `Aggregated` rows of Locust's `_stats_history.csv`, in time order. Raises
    ReportError when its header lacks a column the plot needs."""
    reader = csv.DictReader(io.StringIO(text))
    needed = ("Timestamp", "User Count", "Name", "Requests/s", "Failures/s", "50%", "95%",
              "99%")
    missing = [name for name in needed if name not in (reader.fieldnames or ())]
    if missing:
        raise ReportError(f"the stats history has no {', '.join(missing)} column")
    moments = []
    for row in reader:
        if row.get("Name") != "Aggregated":
            continue
        try:
            moments.append(Moment(float(row["Timestamp"]), int(row["User Count"]),
                                  float(row["Requests/s"]), float(row["Failures/s"]),
                                  _optional(row["50%"]), _optional(row["95%"]),
                                  _optional(row["99%"])))
        except (TypeError, ValueError):
            raise ReportError(f"a history row at {row.get('Timestamp')!r} holds a value that "
                              "is not a number") from None
    return sorted(moments, key=lambda moment: moment.timestamp)


def _optional(text: str) -> float | None:
    return None if text in ("N/A", "") else float(text)


def markdown(title: str, figures: Figures, verdicts: Iterable[Verdict]) -> str:
    """The job summary's section: the verdicts, then each endpoint's figures."""
    rows = "".join(f"| {v.name} | {v.says} | {'pass' if v.passed else '**FAIL**'} |\n"
                   for v in verdicts)
    endpoints = "".join(f"| {e.method} {e.name} | {e.requests} | {e.failures} | "
                        f"{e.p95_ms:g} | {e.p99_ms:g} |\n" for e in figures.endpoints)
    text = (f"### {title}\n\n| threshold | measured | verdict |\n|---|---|---|\n{rows}")
    if endpoints:
        text += ("\n| endpoint | requests | failures | p95 ms | p99 ms |\n|---|---|---|---|---|\n"
                 + endpoints)
    return text
