"""`shipyard deploy staging` behind its two gates, on the sandbox runtime: the approval before
the first write and the health check after the deployment succeeded.

This module has its own world: its staging environment gains `require_approval = true`.
The tests run in order: the first is refused before any write, the second deploys 1.1.0
with --yes, the third deploys 1.2.0 while the health URL answers another version, and must
leave the service on 1.1.0.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.integration

DEPLOYMENT_FAILED, APPROVAL = 15, 16  # the README's exit code table


class StaleService:
    """A service on 127.0.0.1 that is healthy and serves version 1.0.9 whatever is deployed:
    what a health URL pointing at the wrong place (or a cache) answers."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        stale = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stale.asked.append(self.path)
                body = json.dumps({"status": "ok", "version": "1.0.9"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def stale() -> Iterator[StaleService]:
    made = StaleService()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture(scope="module")
def gated(world):
    """The world's staging requires approval, and its health check gives up after 3 s."""
    config = world.repo.project / "shipyard.toml"
    text = config.read_text()
    staging = '[environments.staging]\n'
    assert text.count(staging) == 1 and "url = \"${" in text
    text = text.replace(staging, staging + "require_approval = true\n")
    text = text.replace("[environments.staging.health]\n",
                        "[environments.staging.health]\ntimeout = 3.0\n", 1)
    text = text.replace("timeout = 20.0\n", "", 1)  # the staging health table's own timeout
    config.write_text(text)
    world.repo.git("commit", "-q", "-am", "staging requires approval")
    return world


def _listener_variable(world) -> str:
    return f"SHIPYARD_LISTENER_{world.name.upper()}_8081"


def test_a_run_that_cannot_ask_is_refused_before_any_write(gated, shipyard) -> None:
    gated.push(shipyard, "1.1.0")
    before = (gated.task_definitions("staging"), gated.service("staging")["deployments"])
    result = gated.run(shipyard, "deploy", "staging", "--version", "1.1.0")
    assert result.code == APPROVAL, result.out + result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert "staging requires approval (require_approval = true)" in errors[0]
    assert "pass --yes" in errors[0]
    assert (gated.task_definitions("staging"),
            gated.service("staging")["deployments"]) == before


def test_yes_deploys_and_the_health_check_asks_the_listener(gated, shipyard) -> None:
    result = gated.run(shipyard, "deploy", "staging", "--version", "1.1.0", "--yes", "--json")
    assert result.code == 0, result.err
    assert result.json()["report"]["outcome"] == "succeeded"
    health = result.json()["health"]
    listener = gated.url(8081)
    assert f"GET {listener}/health: 200 OK" in health
    assert f"GET {listener}/version: 200 OK, version 1.1.0" in health
    assert health[-1].startswith("health check passed")
    assert gated.served_version(8081) == "1.1.0"


def test_a_health_url_serving_another_version_fails_and_rolls_back(gated, shipyard,
                                                                    stale) -> None:
    image = gated.push(shipyard, "1.2.0")
    result = gated.run(shipyard, "deploy", "staging", "--image", image, "--yes",
                       env={_listener_variable(gated): stale.url})
    assert result.code == DEPLOYMENT_FAILED, result.out + result.err
    said = result.out + result.err
    assert f"GET {stale.url}/version: 200 OK, version 1.0.9 (expected 1.2.0)" in said
    assert "serves version 1.0.9, not 1.2.0" in result.err
    assert stale.asked[:2] == ["/health", "/version"]
    assert gated.running_image("staging") == gated.push(shipyard, "1.1.0")
    gated.wait_for("the listener to serve 1.1.0 again",
                   lambda: gated.served_version(8081) == "1.1.0")
