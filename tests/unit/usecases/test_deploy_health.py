"""The health check after a deploy, against a real HTTP server on 127.0.0.1 whose answers
each test scripts, on a clock that only the check's own pauses move."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from shipyard.adapters.http_probe import HttpProbe
from shipyard.config import HealthSettings
from shipyard.errors import ConfigError
from shipyard.usecases.deploy.health import MAX_ATTEMPTS, check_health, health_url

HANG = "hang"  # an answer that never comes


class Service:
    """Answers each path from a script: a list of (status, body) taken in turn, the last one
    repeated; records every path asked."""

    def __init__(self) -> None:
        self.script: dict[str, list] = {}
        self.asked: list[str] = []
        self.release = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service.asked.append(self.path)
                answers = service.script.get(self.path, [(404, "")])
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer == HANG:
                    service.release.wait(30)  # until the test ends; the check gives up first
                    return
                status, body = answer
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://10.0.0.9/health")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def service() -> Iterator[Service]:
    running = Service()
    thread = threading.Thread(target=running.server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield running
    running.release.set()
    running.server.shutdown()
    running.server.server_close()


class Clock:
    """Time that moves only when the check pauses."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def settings(url: str, **extra) -> HealthSettings:
    return HealthSettings(url=url, **extra)


def check(url: str, version: str = "1.2.3", env: dict | None = None, clock: Clock | None = None,
          **extra):
    clock = clock or Clock()
    return check_health(settings(url, **extra), version, env or {}, clock=clock,
                        sleep=clock.sleep)


def healthy(service: Service, version: str = "1.2.3") -> None:
    service.script["/health"] = [(200, {"status": "ok"})]
    service.script["/version"] = [(200, {"version": version, "revision": "abc"})]


def test_a_healthy_service_serving_the_version_passes_at_once(service: Service) -> None:
    healthy(service)
    result = check(service.url)
    assert result.ok and result.reason == ""
    assert service.asked == ["/health", "/version"]
    assert f"GET {service.url}/health: 200 OK" in result.lines
    assert f"GET {service.url}/version: 200 OK, version 1.2.3" in result.lines
    assert result.lines[-1].startswith("health check passed (attempt 1,")


def test_the_wrong_version_fails_naming_both(service: Service) -> None:
    healthy(service, version="1.2.2")
    clock = Clock()
    result = check(service.url, clock=clock, timeout=20)
    assert not result.ok
    assert "serves version 1.2.2, not 1.2.3" in result.reason
    assert result.reason.startswith("the health check failed after ")
    # The same answer each time is said once, not once an attempt.
    wrong = f"GET {service.url}/version: 200 OK, version 1.2.2 (expected 1.2.3)"
    assert result.lines.count(wrong) == 1
    assert service.asked.count("/version") == len(clock.pauses) + 1 > 2
    assert sum(clock.pauses) == pytest.approx(20)  # retried until the timeout, not beyond


def test_a_503_that_becomes_200_passes_after_growing_pauses(service: Service) -> None:
    healthy(service)
    service.script["/health"] = [(503, "draining"), (503, "draining"), (200, "ok")]
    clock = Clock()
    result = check(service.url, clock=clock)
    assert result.ok
    assert clock.pauses == [0.5, 1.0]
    assert service.asked == ["/health", "/health", "/health", "/version"]
    said = [line for line in result.lines if line.startswith("GET")]
    assert said == [f"GET {service.url}/health: 503 Service Unavailable",
                    f"GET {service.url}/health: 200 OK",
                    f"GET {service.url}/version: 200 OK, version 1.2.3"]
    assert result.lines[-1].startswith("health check passed (attempt 3,")


def test_a_service_that_stays_unavailable_fails_at_the_timeout(service: Service) -> None:
    service.script["/health"] = [(503, "")]
    clock = Clock()
    result = check(service.url, clock=clock, timeout=30)
    assert not result.ok
    assert result.reason.endswith(f"GET {service.url}/health: answered 503 Service "
                                  "Unavailable")
    assert sum(clock.pauses) == pytest.approx(30)
    assert max(clock.pauses) == 5.0  # the pause grows, and stops growing
    assert "/version" not in service.asked  # a failing attempt asks no more


def test_attempts_are_bounded_in_number_too(service: Service) -> None:
    service.script["/health"] = [(500, "")]
    clock = Clock()
    result = check(service.url, clock=clock, timeout=86400)
    assert not result.ok
    assert len(service.asked) == MAX_ATTEMPTS
    assert f"after {MAX_ATTEMPTS} attempts" in result.reason


def test_an_endpoint_that_never_answers_times_out(service: Service) -> None:
    # Real time here: the request's own timeout is what ends it (the check's, 0.5 s).
    service.script["/health"] = [HANG]
    pauses: list[float] = []
    result = check_health(settings(service.url, timeout=0.5), "1.2.3", {},
                          clock=time.monotonic, sleep=pauses.append)
    assert not result.ok
    assert f"GET {service.url}/health: no answer within 0.5s" in result.lines
    assert result.reason.endswith("no answer within 0.5s")


def test_nothing_listening_is_said() -> None:
    with socket.socket() as free:  # a port that was free a moment ago: connecting is refused
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = check(f"http://127.0.0.1:{port}", timeout=2)
    assert not result.ok
    assert result.reason.endswith(f"GET http://127.0.0.1:{port}/health: connection refused")


@pytest.mark.parametrize(("url", "words"), [
    ("http://10.1.2.3:8080", "10.1.2.3 is a private address (10.0.0.0/8)"),
    ("http://172.31.0.5/", "172.31.0.5 is a private address (172.16.0.0/12)"),
    ("https://192.168.1.20", "192.168.1.20 is a private address (192.168.0.0/16)"),
    ("http://169.254.169.254", "169.254.169.254 is a link-local address"),
    ("ftp://127.0.0.1/", "the scheme is ftp, not http or https"),
])
def test_a_refused_address_is_never_contacted(url: str, words: str) -> None:
    asked: list[httpx.Request] = []
    probe = HttpProbe(httpx.MockTransport(lambda request: asked.append(request) or
                                          httpx.Response(200)))
    clock = Clock()
    result = check_health(settings("${HEALTH_URL}"), "1.2.3", {"HEALTH_URL": url},
                          clock=clock, sleep=clock.sleep, http=probe)
    assert not result.ok
    assert result.lines == [result.reason]
    assert result.reason.startswith(f"refused {url}: {words}")
    assert "public load balancer or domain" in result.reason
    assert asked == [] and clock.pauses == []


class PrivateName(HttpProbe):
    """A host name that resolves into 192.168/16 (a split-horizon DNS, say)."""

    def addresses(self, host: str, port: int) -> list[str]:
        return ["192.168.7.7"]


def test_a_name_that_resolves_to_a_private_address_is_refused(service: Service) -> None:
    healthy(service)
    clock = Clock()
    with PrivateName() as probe:
        result = check_health(settings(service.url), "1.2.3", {}, clock=clock,
                              sleep=clock.sleep, http=probe)
    assert not result.ok
    assert "127.0.0.1 resolves to 192.168.7.7 is a private address" in result.reason
    assert service.asked == []


def test_a_redirect_is_reported_not_followed(service: Service) -> None:
    service.script["/health"] = [(301, "")]
    result = check(service.url, timeout=1)
    assert not result.ok
    assert f"GET {service.url}/health: 301 Moved Permanently to http://10.0.0.9/health, " \
           "not followed" in result.lines
    assert set(service.asked) == {"/health"}  # only ever the URL configured


@pytest.mark.parametrize(("body", "said"), [
    ("<html>ok</html>", "not JSON"),
    ({"release": "1.2.3"}, "JSON without a 'version' string"),
    ([1, 2], "JSON without a 'version' string"),
    ({"version": 123}, "JSON without a 'version' string"),
])
def test_a_version_answer_that_names_no_version_fails(service: Service, body, said) -> None:
    healthy(service)
    service.script["/version"] = [(200, body)]
    result = check(service.url, timeout=1)
    assert not result.ok and result.reason.endswith(said)


def test_configured_paths_and_version_field(service: Service) -> None:
    service.script["/health"] = [(200, "")]
    service.script["/api/ready"] = [(204, "")]
    service.script["/about"] = [(200, {"build": "2.0.0"})]
    result = check(service.url + "/", version="2.0.0", paths=("/health", "/api/ready"),
                   version_path="/about", version_field="build")
    assert result.ok
    assert service.asked == ["/health", "/api/ready", "/about"]
    assert result.lines[0] == (f"health check of {service.url} (within 60s): /health, "
                               "/api/ready, and 'build' of /about = 2.0.0")


@pytest.mark.parametrize(("version", "extra", "why"), [
    ("", {}, "the deployed version is not known"),
    ("1.2.3", {"version_path": ""}, "version_path is empty"),
])
def test_the_version_check_is_skipped_with_a_line_saying_so(service: Service, version, extra,
                                                             why) -> None:
    healthy(service, version="9.9.9")
    result = check(service.url, version=version, **extra)
    assert result.ok
    assert service.asked == ["/health"]
    assert f"the served version is not checked: {why}" in result.lines


def test_the_url_comes_from_the_environment(service: Service) -> None:
    healthy(service)
    url = "${SHIPYARD_LISTENER_GAMEPULSE_8081:-http://10.9.9.9}"
    result = check(url, env={"SHIPYARD_LISTENER_GAMEPULSE_8081": service.url})
    assert result.ok and service.asked == ["/health", "/version"]


@pytest.mark.parametrize(("url", "env", "words"), [
    ("${APP_URL}", {}, "environments.staging.health.url uses ${APP_URL}, which is not set; "
                       "export APP_URL"),
    ("${LB:-${APP_URL:-}}", {"APP_URL": ""}, "environments.staging.health.url = "
                                              "'${LB:-${APP_URL:-}}' comes out empty here"),
])
def test_a_url_that_cannot_be_filled_in_is_a_config_error(url: str, env: dict,
                                                          words: str) -> None:
    clock = Clock()
    with pytest.raises(ConfigError) as raised:
        check_health(settings(url), "1.2.3", env, clock=clock, sleep=clock.sleep,
                     key="environments.staging.health.url")
    assert str(raised.value).startswith(words)


def test_a_huge_version_answer_is_cut_off_not_read_whole(service: Service) -> None:
    healthy(service)
    service.script["/version"] = [(200, {"version": "1.2.3", "padding": "x" * 200_000})]
    result = check(service.url, timeout=1)
    assert not result.ok
    assert result.reason.endswith("an answer larger than 64 KiB, not a version")


def test_the_url_is_judged_before_a_deploy_writes() -> None:
    key = "environments.production.health.url"
    value = "${SHIPYARD_LISTENER_GAMEPULSE_80:-${GAMEPULSE_PRODUCTION_URL:-}}"
    env = {"GAMEPULSE_PRODUCTION_URL": "https://gamepulse.example.org"}
    assert health_url(settings(value), env, key=key) == "https://gamepulse.example.org"
    with pytest.raises(ConfigError, match=r"^environments.production.health.url = .* comes out "
                                          "empty here"):
        health_url(settings(value), {}, key=key)
    with pytest.raises(ConfigError, match=r"^environments.production.health.url: refused "
                                          r"http://192.168.0.4: 192.168.0.4 is a private"):
        health_url(settings(value), {"GAMEPULSE_PRODUCTION_URL": "http://192.168.0.4"}, key=key)
