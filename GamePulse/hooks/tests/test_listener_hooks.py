"""AfterAllowTestTraffic and AfterAllowTraffic against a real GamePulse server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gamepulse_hooks import handlers, smoke
from gamepulse_hooks.checks import Findings
from gamepulse_hooks.http import TRIES, Answer, Http
from hooks_fakes import FakeAws, FakeContext, definition

EVENT = {"DeploymentId": "d-ABCDEFGHI", "LifecycleEventHookExecutionId": "exec-2"}
HOOKS = [(handlers.after_allow_test_traffic, "TEST_URL"),
         (handlers.after_allow_traffic, "PRODUCTION_URL")]


def failures(result: dict) -> list[str]:
    return [line for line in result["lines"] if line.startswith("FAILED")]


@pytest.mark.parametrize(("hook", "variable"), HOOKS)
def test_the_new_version_passes(hook: Callable, variable: str, aws: FakeAws,
                                gamepulse: Callable[..., str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, gamepulse("1.4.0"))
    result = hook(EVENT, FakeContext())
    assert result["status"] == "Succeeded", result["lines"]
    assert aws.reported[0]["status"] == "Succeeded"
    assert any("/version answers '1.4.0', the version being deployed" in line
               for line in result["lines"])
    assert any("returns the posted event" in line for line in result["lines"])
    assert (hook is handlers.after_allow_traffic) == any(
        "summary counts the event" in line for line in result["lines"])


@pytest.mark.parametrize(("hook", "variable"), HOOKS)
def test_the_old_version_fails_with_both_versions_named(
        hook: Callable, variable: str, aws: FakeAws, gamepulse: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, gamepulse("1.3.0"))
    result = hook(EVENT, FakeContext())
    assert (result["status"], aws.reported[0]["status"]) == ("Failed", "Failed")
    assert failures(result) == ["FAILED: /version answers '1.3.0', expected 1.4.0"]


def test_the_containers_own_version_setting_wins(aws: FakeAws, gamepulse: Callable[..., str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app = definition()["containerDefinitions"][0]
    app["environment"].append({"name": "GAMEPULSE_VERSION", "value": "1.4.0-rc.1"})
    aws.task_definition = definition(containerDefinitions=[app])
    monkeypatch.setenv("TEST_URL", gamepulse("1.4.0-rc.1"))
    assert handlers.after_allow_test_traffic(EVENT, FakeContext())["status"] == "Succeeded"


def test_a_build_version_matches_its_tag(aws: FakeAws, gamepulse: Callable[..., str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    next(iter(aws.images.values()))["imageTags"] = ["1.4.0-develop.3-abc1234", "latest"]
    monkeypatch.setenv("TEST_URL", gamepulse("1.4.0-develop.3+abc1234"))
    result = handlers.after_allow_test_traffic(EVENT, FakeContext())
    assert result["status"] == "Succeeded", result["lines"]


def test_an_image_without_a_version_tag_fails(aws: FakeAws, gamepulse: Callable[..., str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    next(iter(aws.images.values()))["imageTags"] = ["latest", "sha-3f2a9c1"]
    monkeypatch.setenv("TEST_URL", gamepulse())
    result = handlers.after_allow_test_traffic(EVENT, FakeContext())
    assert "cannot tell the version being deployed" in failures(result)[0]


def test_a_missing_url_fails_naming_the_variable(aws: FakeAws,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_URL", raising=False)
    result = handlers.after_allow_test_traffic(EVENT, FakeContext())
    assert failures(result) == ["FAILED: TEST_URL is not set to the listener's URL "
                                "(http://HOST:PORT)"]


def test_nothing_listening_fails_after_bounded_tries(gamepulse: Callable[..., str]) -> None:
    url = gamepulse()
    pauses: list[float] = []
    http = Http(url.rsplit(":", 1)[0] + ":9", timeout=1, deadline=10**9,
                sleep=pauses.append)  # port 9 (discard): nothing listens there
    findings = smoke.smoke(http, ["1.4.0"], "d-X")
    assert findings.failed == 3  # health, version, POST; nothing read back after the POST
    assert findings.lines[0].startswith("FAILED: /health answers no answer from http://127")
    assert len(pauses) == 3 * (TRIES - 1)


@pytest.mark.parametrize(("deadline", "asked"), [
    (6.0, ["/health"]),  # a second try (pause 2 s + timeout 5 s) would end too late
    (4.0, []),  # even the first answer could come after the deadline
])
def test_no_request_is_made_that_could_end_after_the_deadline(
        deadline: float, asked: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    http = Http("http://127.0.0.1:9", timeout=5, deadline=deadline, sleep=lambda s: None,
                clock=lambda: 0.0)
    calls: list[str] = []

    def busy(method: str, path: str, body: object) -> Answer:
        calls.append(path)
        return Answer(503, b"")

    monkeypatch.setattr(http, "_once", busy)
    answer = http.request("GET", "/health")
    assert calls == asked
    assert answer.describe() == ("HTTP 503" if asked else "/health not asked: the hook's "
                                                          "time is up")


def test_a_read_that_never_holds_the_event_fails(gamepulse: Callable[..., str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Another task answering every read (its own store) is reported, not waited on."""
    http = Http(gamepulse(), timeout=2, deadline=10**9, sleep=lambda s: None)
    real = http.request
    monkeypatch.setattr(http, "request", lambda method, path, body=None: real(
        method, path.replace("/events", "/events?player_id=someone-else")
        if method == "GET" else path, body))
    findings = Findings()
    assert smoke.check_events(http, "d-X", findings) is None
    assert findings.lines[-1].startswith("FAILED: GET /v1/matches/codedeploy-d-X-")
    assert "in 8 reads (last: HTTP 200 without the event)" in findings.lines[-1]
