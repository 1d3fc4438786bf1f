"""The HTTP server and its lifecycle: bind, serve, graceful shutdown (``main``).

Built on ``http.server.ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive)
so the image needs nothing beyond the Python standard library. Requests are handled by
``gamepulse.handler`` (dispatch, responses, access logs), routed by ``gamepulse.routes`` and
answered by ``gamepulse.endpoints``.

Shutdown (SIGTERM from ECS, or SIGINT): stop accepting connections, close idle keep-alive
connections, let requests in flight finish (up to ``GAMEPULSE_SHUTDOWN_GRACE`` seconds, each
answered with ``Connection: close``), flush the data file, exit 0.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from gamepulse.config import Config, ConfigError
from gamepulse.endpoints import MAX_BODY
from gamepulse.handler import IDLE_TIMEOUT, Handler
from gamepulse.logs import JsonLogger
from gamepulse.metrics import Metrics
from gamepulse.routes import ROUTES, HttpError, Route
from gamepulse.store import EventStore, StorageError

# The request side lives in gamepulse.routes, gamepulse.handler and gamepulse.endpoints; its
# names stay importable from here.
__all__ = [
    "IDLE_TIMEOUT",
    "MAX_BODY",
    "ROUTES",
    "GamePulseServer",
    "Handler",
    "HttpError",
    "Route",
    "create_server",
    "main",
]


class GamePulseServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        config: Config,
        store: EventStore,
        logger: JsonLogger,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.logger = logger
        self.metrics = metrics or Metrics()
        self.draining = False
        self._connections: dict[socket.socket, bool] = {}
        self._closed: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((config.host, config.port), Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def track(self, connection: socket.socket, busy: bool) -> None:
        with self._connections_lock:
            self._connections[connection] = busy

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.pop(connection, None)
            self._closed.discard(connection)

    def drain(self, grace: float) -> bool:
        """After serve_forever() has returned: close idle connections and wait up to grace
        seconds for busy ones. True when every connection finished in time."""
        self.draining = True
        deadline = time.monotonic() + grace
        while True:
            with self._connections_lock:
                idle = [c for c, busy in self._connections.items() if not busy]
                idle = [c for c in idle if c not in self._closed]
                self._closed.update(idle)
                remaining = len(self._connections)
            for connection in idle:
                # SHUT_RD wakes a handler blocked reading the next request (it sees EOF)
                # yet lets one that has just read a request still write its response.
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)
            if remaining == 0:
                return True
            if time.monotonic() >= deadline:
                self.logger.warning("shutdown grace period over", open_connections=remaining)
                return False
            time.sleep(0.02)


def create_server(
    config: Config, logger: JsonLogger | None = None, metrics: Metrics | None = None
) -> GamePulseServer:
    """Open the store (reading back persisted events) and bind the listening socket."""
    logger = logger or JsonLogger()

    def on_skip(path, line: int, reason: str) -> None:
        logger.warning("skipped unreadable stored event", file=str(path), line=line, reason=reason)

    store = EventStore(config.data_dir, config.instance_id, config.fsync, on_skip=on_skip)
    if config.data_dir is not None:
        report = store.load_report
        logger.info(
            "events loaded",
            data_dir=str(config.data_dir),
            files=report.files,
            events=report.events,
            skipped=report.skipped,
        )
    try:
        return GamePulseServer(config, store, logger, metrics)
    except BaseException:
        store.close()
        raise


def main() -> int:
    logger = JsonLogger()
    try:
        config = Config.from_env()
    except ConfigError as exc:
        logger.error("bad configuration", error=str(exc))
        return 2
    try:
        server = create_server(config, logger)
    except StorageError as exc:
        logger.error("storage unavailable", error=str(exc))
        return 1
    except OSError as exc:
        logger.error("cannot listen", host=config.host, port=config.port, error=str(exc))
        return 1

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        # Runs in the main thread between two bytecodes, maybe while it holds a lock (the
        # logger's, threading's own): take none here. A watcher thread does the work.
        received.append(signum)
        stop.set()

    def watch() -> None:
        stop.wait()
        logger.info("stopping", signal=signal.Signals(received[0]).name)
        server.shutdown()  # returns once serve_forever() has returned

    threading.Thread(target=watch, name="shutdown-watcher", daemon=True).start()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logger.info(
        "listening",
        host=config.host,
        port=server.port,
        version=config.version,
        revision=config.revision,
        storage=str(config.data_dir) if config.data_dir else "memory",
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        clean = server.drain(config.shutdown_grace)
        server.server_close()
        server.store.close()
        logger.info("stopped", clean=clean)
    return 0
