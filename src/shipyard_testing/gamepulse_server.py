"""GamePulse's own server (its app code, an in-memory store) on a free loopback port, for
tests that load-test or smoke-check it without a sandbox."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

GAMEPULSE = Path(__file__).resolve().parents[2] / "GamePulse"


@dataclass
class Served:
    url: str


@contextmanager
def serve_gamepulse(version: str = "1.2.3") -> Iterator[Served]:
    """The server, serving `version`, for the block's duration."""
    sys.path.insert(0, str(GAMEPULSE / "app"))
    try:
        from gamepulse.config import Config
        from gamepulse.logs import JsonLogger
        from gamepulse.server import create_server
    finally:
        sys.path.remove(str(GAMEPULSE / "app"))
    server = create_server(Config(host="127.0.0.1", port=0, version=version,
                                  revision="abc1234", shutdown_grace=2, instance_id="loadtest"),
                           JsonLogger(io.StringIO()))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.port}")
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
        server.store.close()
