"""HTTP servers for tests, run in a thread on a free loopback port: one of a handler class
(`loopback_server`), any `socketserver` server (`serving`), and the real GamePulse app
(`gamepulse_server`), whose folder is not installed and goes on `sys.path` here, as
GamePulse's own tests put it."""

from __future__ import annotations

import io
import socketserver
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GAMEPULSE_APP = Path(__file__).resolve().parents[2] / "GamePulse" / "app"


def loopback_server(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """A threading server of `handler` on a free 127.0.0.1 port, and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # a handler left waiting never holds the test run open
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Serve in a thread while the block runs; shut down and closed after it."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@contextmanager
def gamepulse_server(version: str) -> Iterator[str]:
    """A real GamePulse server serving `version` (events in memory); its base URL."""
    if str(GAMEPULSE_APP) not in sys.path:
        sys.path.insert(0, str(GAMEPULSE_APP))
    from gamepulse.config import Config
    from gamepulse.logs import JsonLogger
    from gamepulse.server import create_server

    config = Config(host="127.0.0.1", port=0, version=version, revision="abc1234",
                    shutdown_grace=1, instance_id="shipyard-test")
    server = create_server(config, JsonLogger(io.StringIO()))
    try:
        with serving(server):
            yield f"http://127.0.0.1:{server.port}"
    finally:
        server.store.close()
