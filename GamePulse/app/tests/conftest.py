"""Fixtures for the GamePulse app tests: the real server on a free port, spoken to over HTTP.

The app is not installed: its folder (GamePulse/app) is put on sys.path here, so
``python -m pytest GamePulse/app/tests`` works from the repository root.
"""

from __future__ import annotations

import http.client
import io
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

APP_DIR = Path(__file__).resolve().parents[1]
GAMEPULSE_DIR = APP_DIR.parent
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from gamepulse.config import Config  # noqa: E402 - needs the sys.path entry above
from gamepulse.logs import JsonLogger  # noqa: E402
from gamepulse.server import GamePulseServer, create_server  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too, so --strict-markers passes whether or not pyproject lists it.
    config.addinivalue_line("markers", "slow: takes tens of seconds (builds images)")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class RunningServer:
    server: GamePulseServer
    thread: threading.Thread
    log_stream: io.StringIO
    stopped: bool = field(default=False)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self, timeout: float = 5) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        conn: http.client.HTTPConnection | None = None,
    ) -> Response:
        own = conn is None
        conn = conn or self.connect()
        try:
            data = raw if raw is not None else None
            if body is not None:
                data = json.dumps(body).encode()
            hdrs = {"Content-Type": "application/json"} if data is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            if own:
                conn.close()

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", path, body, **kwargs)

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_stream.getvalue().splitlines()]

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.server.shutdown()
        self.thread.join(5)
        self.server.drain(2)
        self.server.server_close()
        self.server.store.close()


@pytest.fixture
def start_server() -> Iterator[Any]:
    """Factory: start_server(**config_fields) -> RunningServer (stopped at teardown)."""
    running: list[RunningServer] = []

    def start(**overrides: Any) -> RunningServer:
        base = Config(
            host="127.0.0.1",
            port=0,
            version="1.2.3",
            revision="abc1234",
            shutdown_grace=2,
            instance_id="test",
        )
        stream = io.StringIO()
        server = create_server(replace(base, **overrides), JsonLogger(stream))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        item = RunningServer(server, thread, stream)
        running.append(item)
        return item

    yield start
    for item in running:
        item.stop()


@pytest.fixture
def app(start_server: Any) -> RunningServer:
    """A server with an in-memory store."""
    return start_server()
