"""The load test's rules: figures from Locust's JSON statistics, thresholds, the history."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shipyard.domain.loadtest import (
    Figures,
    ReportError,
    Thresholds,
    figures_from_locust_json,
    history_from_csv,
    judge,
    markdown,
    percentile,
)

LIMITS = Thresholds(p95_ms=100, p99_ms=200, max_error_rate=0.05, min_rps=10)


def _entry(name: str, method: str, times: dict[str, int], failures: int = 0,
           start: float = 100.0, last: float = 110.0) -> dict:
    return {"name": name, "method": method, "num_requests": sum(times.values()),
            "num_failures": failures, "total_response_time": 0.0, "max_response_time": 0.0,
            "start_time": start, "last_request_timestamp": last, "response_times": times}


def _figures(**fields: float) -> Figures:
    base = {"requests": 1000, "failures": 0, "rps": 50.0, "seconds": 20.0, "avg_ms": 10.0,
            "p50_ms": 10.0, "p95_ms": 50.0, "p99_ms": 90.0, "max_ms": 120.0}
    return Figures(**{**base, **fields})


def test_percentile_is_locusts_rule_from_the_slowest_down() -> None:
    # 100 requests: 90 at 10 ms, 9 at 50 ms, 1 at 300 ms. Counting from the slowest, p95 is
    # where no more than 95 requests are left (50); for p99 the slowest one alone leaves 99.
    histogram = {10: 90, 50: 9, 300: 1}
    assert percentile(histogram, 100, 0.50) == 10
    assert percentile(histogram, 100, 0.95) == 50
    assert percentile(histogram, 100, 0.99) == 300
    assert percentile({}, 0, 0.95) == 0


HISTOGRAMS = [({10: 90, 50: 9, 300: 1}, 100), ({1: 3, 2: 1, 7: 5, 120: 2, 4400: 1}, 12),
              ({5: 1}, 1), ({8: 200, 9: 1}, 201)]


def test_percentile_equals_locusts_own_function() -> None:
    # In a child: importing Locust monkey-patches the standard library with gevent.
    script = ("import json, sys\n"
              "from locust.stats import calculate_response_time_percentile as p\n"
              "cases = json.loads(sys.argv[1])\n"
              "print(json.dumps([[p({int(k): v for k, v in h.items()}, n, f)\n"
              "                   for f in (0.5, 0.95, 0.99)] for h, n in cases]))")
    answer = subprocess.run([sys.executable, "-c", script, json.dumps(HISTOGRAMS)],
                            capture_output=True, text=True, timeout=120, check=True)
    ours = [[percentile(h, n, f) for f in (0.5, 0.95, 0.99)] for h, n in HISTOGRAMS]
    assert json.loads(answer.stdout) == ours


def test_the_figures_add_every_endpoint_together_as_locusts_aggregated_row() -> None:
    text = json.dumps([
        _entry("/health", "GET", {"5": 50}, start=100.0, last=105.0),
        _entry("/v1/matches/[match_id]/events", "POST", {"20": 45, "400": 5}, failures=2,
               start=100.5, last=110.0),
    ])
    figures = figures_from_locust_json(text)
    assert (figures.requests, figures.failures) == (100, 2)
    assert figures.error_rate == 0.02
    assert figures.seconds == 10.0 and figures.rps == 10.0  # first start to last answer
    assert (figures.p50_ms, figures.p95_ms, figures.p99_ms) == (20.0, 400.0, 400.0)
    post = figures.endpoints[1]
    assert (post.method, post.name, post.requests, post.failures) == (
        "POST", "/v1/matches/[match_id]/events", 50, 2)
    assert (post.p95_ms, post.p99_ms) == (400.0, 400.0)


def test_an_entry_without_requests_does_not_stretch_the_run() -> None:
    text = json.dumps([_entry("/health", "GET", {"5": 10}, start=100.0, last=102.0),
                       _entry("/idle", "GET", {}, start=50.0, last=0.0)])
    assert figures_from_locust_json(text).seconds == 2.0


@pytest.mark.parametrize(("text", "says"), [
    ("not json", "not JSON"),
    ('{"name": "x"}', "not a list"),
    ('[{"name": "x", "num_requests": "3"}]', "num_requests is '3', not a count"),
    ('[{"name": "x", "num_requests": 1, "start_time": 1, "last_request_timestamp": 2, '
     '"response_times": {"5": "many"}}]', "is not a number"),
    ('[{"name": "x", "num_requests": 1, "start_time": null}]', "start_time is None"),
])
def test_a_report_that_is_not_locusts_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ReportError, match=says):
        figures_from_locust_json(text)


def test_figures_within_every_threshold_pass_and_a_limit_itself_passes() -> None:
    verdicts = judge(_figures(p95_ms=100.0, p99_ms=200.0, failures=50, rps=10.0), LIMITS)
    assert [(v.name, v.passed) for v in verdicts] == [
        ("requests", True), ("p95_ms", True), ("p99_ms", True), ("error_rate", True),
        ("rps", True)]


@pytest.mark.parametrize(("fields", "failed", "says"), [
    ({"p95_ms": 101.0}, "p95_ms", "p95 latency 101 ms is over the limit 100 ms"),
    ({"p99_ms": 250.0}, "p99_ms", "p99 latency 250 ms is over the limit 200 ms"),
    ({"failures": 51}, "error_rate", "error rate 5.10% (51 of 1000) is over the limit 5.00%"),
    ({"rps": 9.9}, "rps", "9.9 requests/s is below the minimum 10"),
])
def test_each_threshold_fails_alone(fields: dict, failed: str, says: str) -> None:
    verdicts = judge(_figures(**fields), LIMITS)
    assert [v.name for v in verdicts if not v.passed] == [failed]
    assert [v.says for v in verdicts if not v.passed] == [says]


def test_a_run_that_measured_nothing_fails_every_threshold() -> None:
    # Zero latency and zero errors would pass the limits; with no request they say nothing.
    verdicts = judge(_figures(requests=0, rps=0.0, p95_ms=0.0, p99_ms=0.0), LIMITS)
    assert verdicts and not any(v.passed for v in verdicts)
    assert all("nothing was measured" in v.says for v in verdicts)


HISTORY = """\
Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,\
99.99%,100%,Total Request Count,Total Failure Count
1796011607,5,GET,/health,0.000000,0.000000,3,5,5,5,7,8,27,27,27,27,27,3,0
1796011607,5,,Aggregated,4.000000,0.000000,3,5,5,5,7,8,27,27,27,27,27,34,0
1796011606,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0
1796011608,5,,Aggregated,28.000000,1.500000,3,5,5,6,9,11,12,13,27,27,27,69,1
"""


def test_the_history_is_the_aggregated_seconds_in_time_order() -> None:
    moments = history_from_csv(HISTORY)
    assert [m.timestamp for m in moments] == [1796011606, 1796011607, 1796011608]
    first, _, last = moments
    assert (first.users, first.p95_ms, first.p99_ms) == (0, None, None)  # N/A: no answer yet
    assert (last.users, last.rps, last.failures_per_s) == (5, 28.0, 1.5)
    assert (last.p50_ms, last.p95_ms, last.p99_ms) == (3.0, 11.0, 13.0)


def test_a_history_without_a_needed_column_is_refused() -> None:
    with pytest.raises(ReportError, match="no 95%"):
        history_from_csv("Timestamp,User Count,Name,Requests/s,Failures/s,50%,99%\n")
    with pytest.raises(ReportError, match="not a number"):
        history_from_csv(HISTORY.replace("28.000000", "lots"))


def test_the_job_summary_has_each_verdict_and_each_endpoint() -> None:
    figures = figures_from_locust_json(json.dumps([_entry("/health", "GET", {"5": 10})]))
    text = markdown("Load test of staging passed", figures, judge(figures, LIMITS))
    assert text.startswith("### Load test of staging passed\n")
    assert "| rps | 1.0 requests/s is below the minimum 10 | **FAIL** |" in text
    assert "| GET /health | 10 | 0 | 5 | 5 |" in text
