"""`shipyard smoke`: the checks of [smoke] against a real HTTP server on 127.0.0.1 whose
answers each test scripts. Time bounds are tested on a clock the test moves, never by
measuring; the latency bound by an answer that waits longer than the bound allows."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from shipyard.config import Config, EnvironmentSettings, HealthSettings, SmokeSettings
from shipyard.errors import ConfigError, UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.smoke import check_report_paths, run_smoke, write_reports
from shipyard_testing.http_servers import loopback_server, serving

SLOW = "slow"  # an answer sent after SLOW_SECONDS
SLOW_SECONDS = 0.3


class Service:
    """Answers each (method, path) from a script: a list of (status, body) taken in turn, the
    last one repeated; records every request (method, path, headers, body)."""

    def __init__(self) -> None:
        self.script: dict[tuple[str, str], list[Any]] = {}
        self.asked: list[tuple[str, str, dict[str, str], bytes]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                service.asked.append((self.command, self.path, dict(self.headers), body))
                answers = service.script.get((self.command, self.path), [(404, "")])
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer[0] == SLOW:
                    time.sleep(SLOW_SECONDS)
                    answer = answer[1:]
                status, sent = answer
                data = sent.encode() if isinstance(sent, str) else json.dumps(sent).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server, self.url = loopback_server(Handler)


@pytest.fixture
def service() -> Iterator[Service]:
    made = Service()
    with serving(made.server):
        yield made


def config(checks: list[dict[str, Any]], **smoke: Any) -> Config:
    staging = EnvironmentSettings(cluster="c", service="s", task_definition=Path("td.json"),
                                  health=HealthSettings(url="${SERVICE_URL}"))
    return Config(environments={"staging": staging},
                  smoke=SmokeSettings.model_validate({"checks": checks, **smoke}))


class Clock:
    """A clock that moves only when told to: by each sleep, and by `step` at each reading."""

    def __init__(self, step: float = 0.0) -> None:
        self.now, self.step, self.slept = 100.0, step, []

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def smoke(service: Service, cfg: Config, clock: Clock | None = None, **kwargs: Any) -> Any:
    clock = clock or Clock()
    ctx = Context(env={"SERVICE_URL": service.url}, region="ap-northeast-2", clock=clock,
                  sleep=clock.sleep)
    return run_smoke("staging", cfg, ctx, run_id="smoke-run1", **kwargs)


def test_every_check_passes_and_the_run_id_fills_path_body_and_fields(service) -> None:
    service.script[("GET", "/health")] = [(200, {"status": "ok"})]
    service.script[("GET", "/version")] = [(200, {"version": "1.4.0"})]
    service.script[("POST", "/v1/matches/smoke-run1/events")] = [
        (201, {"match_id": "smoke-run1", "events": [{"type": "score", "value": 1}]})]
    result = smoke(service, config([
        {"path": "/health", "fields": {"status": "ok"}},
        {"name": "version", "path": "/version", "version_field": "version"},
        {"method": "POST", "path": "/v1/matches/{run}/events", "status": 201,
         "headers": {"X-Smoke": "yes"}, "body": {"match": "{run}", "value": 1},
         "fields": {"match_id": "{run}", "events[0].type": "score", "events[0].value": 1.0}},
    ]), version="v1.4.0")

    assert [c.failures for c in result.checks] == [(), (), ()], result.to_json()
    assert not result.failed and (result.version, result.version_from) == ("1.4.0", "--version")
    assert [c.name for c in result.checks] == ["GET /health", "version",
                                               "POST /v1/matches/{run}/events"]
    method, path, headers, body = service.asked[-1]
    assert (method, path, json.loads(body)) == (
        "POST", "/v1/matches/smoke-run1/events", {"match": "smoke-run1", "value": 1})
    assert (headers["X-Smoke"], headers["Content-Type"]) == ("yes", "application/json")


def test_each_kind_of_failure_is_named(service) -> None:
    service.script[("GET", "/a")] = [(500, {"error": "boom"})]
    service.script[("GET", "/b")] = [(200, {"status": "degraded", "n": True})]
    service.script[("GET", "/c")] = [(200, "<html>not json</html>")]
    service.script[("GET", "/version")] = [(200, {"version": "1.3.0"})]
    result = smoke(service, config([
        {"path": "/a"},
        {"path": "/b", "fields": {"status": "ok", "n": 1, "missing.x[0]": "y"}},
        {"path": "/c", "fields": {"status": "ok"}},
        {"path": "/version", "version_field": "version"},
    ]), version="1.4.0")

    assert [c.failures for c in result.checks] == [
        ("status 500 Internal Server Error, expected 200",),
        ('status is "degraded", expected "ok"', "n is true, expected 1",
         'missing.x[0] is missing, expected "y"'),
        ("the answer is not JSON (<html>not json</html>), so status cannot be read",),
        ('version is "1.3.0", expected the deployed version 1.4.0',),
    ]
    assert len(result.failed) == 4


def test_build_metadata_matches_its_tag_spelling(service) -> None:
    service.script[("GET", "/version")] = [(200, {"version": "1.4.0-develop.3+abc1234"})]
    checks = [{"path": "/version", "version_field": "version"}]
    assert not smoke(service, config(checks), version="1.4.0-develop.3-abc1234").failed
    assert smoke(service, config(checks), version="1.4.0-develop.4-abc1234").failed


def test_an_answer_slower_than_the_bound_fails_with_its_time(service) -> None:
    service.script[("GET", "/slow")] = [(SLOW, 200, "ok")]
    result = smoke(service, config([{"path": "/slow", "max_latency": SLOW_SECONDS / 10}]))
    (failure,) = result.checks[0].failures
    assert failure.startswith("took ") and failure.endswith(f"over the {SLOW_SECONDS / 10:g}s "
                                                            "bound")
    assert result.checks[0].seconds >= SLOW_SECONDS


def test_a_503_is_retried_within_the_setting_and_nothing_else_is(service) -> None:
    service.script[("GET", "/starting")] = [(503, ""), (200, "ok")]
    service.script[("GET", "/down")] = [(502, "")]
    service.script[("GET", "/broken")] = [(500, "")]
    clock = Clock()
    result = smoke(service, config([{"path": "/starting"}, {"path": "/down"},
                                    {"path": "/broken"}], retries=2), clock)

    assert [(c.status, c.attempts) for c in result.checks] == [(200, 2), (502, 3), (500, 1)]
    assert [c.passed for c in result.checks] == [True, False, False]
    assert clock.slept == [0.5, 0.5, 1.0]  # doubling pauses, each check its own
    assert [p for _, p, _, _ in service.asked] == ["/starting"] * 2 + ["/down"] * 3 + ["/broken"]


def test_checks_left_when_the_total_bound_is_spent_fail_unasked(service) -> None:
    service.script[("GET", "/health")] = [(200, "ok")]
    # each reading of the clock moves it 6 s: the bound of 10 s, set at the start, leaves 4 s
    # for the first check and none for the next
    result = smoke(service, config([{"path": "/health"}] * 3, total_timeout=10.0),
                   Clock(step=6.0))
    assert [c.failures for c in result.checks] == [
        (), ("not run: the total time bound of 10s was spent",),
        ("not run: the total time bound of 10s was spent",)]
    assert len(service.asked) == 1


def test_no_answer_is_a_failure_not_an_error(service) -> None:
    cfg = config([{"path": "/health"}])
    closed = Service()
    closed.server.server_close()  # nothing listens on its port now
    result = smoke(closed, cfg)
    assert result.checks[0].failures == ("connection refused",)
    assert result.checks[0].status is None


@pytest.mark.parametrize(("url", "message"), [
    ("http://10.1.2.3", "10.1.2.3 is a private address"),
    ("http://169.254.169.254", "link-local"),
    ("ftp://127.0.0.1", "not http or https"),
])
def test_a_refused_address_is_a_config_error_before_any_request(url, message) -> None:
    ctx = Context(env={"SERVICE_URL": url}, region="ap-northeast-2")
    with pytest.raises(ConfigError, match=message) as raised:
        run_smoke("staging", config([{"path": "/health"}]), ctx)
    assert "environments.staging.health.url" in str(raised.value)


def test_nothing_to_check_or_nowhere_to_send_it_is_a_config_error(service) -> None:
    ctx = Context(env={"SERVICE_URL": service.url}, region="ap-northeast-2")
    with pytest.raises(ConfigError, match=r"no \[\[smoke.checks\]\]"):
        run_smoke("staging", config([]), ctx)
    bare = Config(environments={"staging": EnvironmentSettings(
        cluster="c", service="s", task_definition=Path("td.json"))},
        smoke=SmokeSettings.model_validate({"checks": [{"path": "/health"}]}))
    with pytest.raises(ConfigError, match=r"add \[environments.staging.health\]"):
        run_smoke("staging", bare, ctx)
    with pytest.raises(ConfigError, match="environment 'production' is not in"):
        run_smoke("production", config([{"path": "/health"}]), ctx)
    with pytest.raises(UsageError, match="--version 'one' is not a semantic version"):
        run_smoke("staging", config([{"path": "/v", "version_field": "version"}]), ctx,
                  version="one")
    assert service.asked == []


def test_the_reports_json_and_junit(service, tmp_path) -> None:
    service.script[("GET", "/ok")] = [(200, "fine")]
    service.script[("GET", "/bad")] = [(404, "<nope & \x01>")]
    result = smoke(service, config([{"path": "/ok"}, {"name": 'quote " & <tag>',
                                                      "path": "/bad", "fields": {"a": 1}}]))
    json_path, junit_path = tmp_path / "out" / "smoke.json", tmp_path / "out" / "smoke.xml"
    write_reports(result, json_path, junit_path)

    report = json.loads(json_path.read_text())
    assert (report["passed"], report["total"], report["failed"], report["run"]) == (
        False, 2, 1, "smoke-run1")
    assert report["checks"][1]["failures"] == [
        "status 404 Not Found, expected 200",
        "the answer is not JSON (<nope & \x01>), so a cannot be read"]
    root = ET.parse(junit_path).getroot()
    suite = root.find("testsuite")
    assert (root.tag, suite.get("tests"), suite.get("failures")) == ("testsuites", "2", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["GET /ok", 'quote " & <tag>']
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure.get("message") == "status 404 Not Found, expected 200"
    assert failure.text.splitlines()[1] == ("the answer is not JSON (<nope & \ufffd>), so a "
                                            "cannot be read")


def test_the_job_summary_keeps_each_check_on_its_row(service) -> None:
    service.script[("GET", "/a")] = [(500, "x")]
    result = smoke(service, config([{"name": "a | b", "path": "/a", "fields": {"k": 1}}]))
    lines = result.markdown().splitlines()
    assert lines[0] == "### shipyard smoke staging: 1 check 1 failed"
    assert lines[-1].startswith("| FAIL | a \\| b | GET /a | 500 | ")
    assert lines[-1].endswith("| status 500 Internal Server Error, expected 200; the answer is "
                              "not JSON (x), so k cannot be read |")


def test_report_paths_are_checked_before_anything_runs(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a folder"):
        check_report_paths(tmp_path)
    with pytest.raises(UsageError, match="which is a file"):
        check_report_paths(None, tmp_path / "file" / "report.xml")
    check_report_paths(tmp_path / "new" / "report.json", None)
