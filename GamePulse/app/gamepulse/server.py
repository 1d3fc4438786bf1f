"""The HTTP server: routing, request handling, access logs and graceful shutdown.

Built on ``http.server.ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive)
so the image needs nothing beyond the Python standard library.

Shutdown (SIGTERM from ECS, or SIGINT): stop accepting connections, close idle keep-alive
connections, let requests in flight finish (up to ``GAMEPULSE_SHUTDOWN_GRACE`` seconds, each
answered with ``Connection: close``), flush the data file, exit 0.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from gamepulse import metrics as metrics_module
from gamepulse.config import Config, ConfigError
from gamepulse.logs import JsonLogger
from gamepulse.metrics import Metrics
from gamepulse.store import (
    EVENT_TYPES,
    EventStore,
    StorageError,
    ValidationError,
    valid_match_id,
    validate_event,
)

MAX_BODY = 64 * 1024
# Longer than an ALB's default 60 s idle timeout, as AWS recommends for targets, so the load
# balancer, not us, closes idle connections (avoids 502s on a reused, just-closed socket).
IDLE_TIMEOUT = 75.0
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_MATCH = r"/v1/matches/(?P<match_id>[^/]+)"


class Route:
    def __init__(self, template: str, pattern: str, methods: dict[str, str]) -> None:
        self.template = template
        self.regex = re.compile(pattern)
        self.methods = methods  # HTTP method -> handler method name

    def allowed(self) -> list[str]:
        names = set(self.methods)
        if "GET" in names:
            names.add("HEAD")
        return sorted(names)


ROUTES = [
    Route("/health", r"/health", {"GET": "get_health"}),
    Route("/version", r"/version", {"GET": "get_version"}),
    Route("/metrics", r"/metrics", {"GET": "get_metrics"}),
    Route(
        "/v1/matches/{match_id}/events",
        _MATCH + r"/events",
        {"GET": "list_events", "POST": "post_event"},
    ),
    Route("/v1/matches/{match_id}/summary", _MATCH + r"/summary", {"GET": "get_summary"}),
]


class HttpError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GamePulse"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: GamePulseServer

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    # -- connection bookkeeping, for graceful shutdown -----------------------------------------
    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, busy=False)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    # -- BaseHTTPRequestHandler hooks ----------------------------------------------------------
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # access logs are written by _dispatch, as JSON

    def log_message(self, format: str, *args: Any) -> None:
        detail = format % args
        if "timed out" in detail:
            return  # an idle keep-alive connection expired: normal, not worth a line
        self.server.logger.warning("http", detail=detail, remote=self.client_address[0])

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors raised by the base class itself (malformed request line, headers too long,
        unsupported method): answer in JSON like every other error, and close."""
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        body = {"error": phrase.lower().replace(" ", "_"), "message": message or explain or phrase}
        if not getattr(self, "_in_dispatch", False):
            self._begin(getattr(self, "command", None) or "-")
        self._send_json(code, body, extra_headers={"Connection": "close"})

    # -- dispatch -------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def _begin(self, method: str) -> None:
        self._started = time.perf_counter()
        self._method = method
        self._route = "unmatched"
        self._recorded = False
        self._body_read = False
        headers = getattr(self, "headers", None)
        incoming = headers.get("X-Request-ID", "") if headers is not None else ""
        self.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex

    def _dispatch(self, method: str) -> None:
        self._begin(method)
        self._in_dispatch = True
        self.server.track(self.connection, busy=True)
        route: Route | None = None
        try:
            url = urlsplit(self.path)
            route, params = _match(url.path)
            if route is None:
                raise HttpError(404, "not_found", f"no such endpoint: {url.path}")
            self._route = route.template
            name = route.methods.get("GET" if method == "HEAD" else method)
            if name is None:
                raise HttpError(
                    405,
                    "method_not_allowed",
                    f"{method} is not allowed on {route.template}; "
                    f"use {', '.join(route.allowed())}",
                )
            handler: Callable[..., None] = getattr(self, name)
            handler(params, parse_qs(url.query))
        except HttpError as exc:
            body: dict[str, Any] = {"error": exc.code, "message": exc.message}
            if exc.details:
                body["details"] = exc.details
            allow = {"Allow": ", ".join(route.allowed())} if route and exc.status == 405 else None
            self._send_json(exc.status, body, extra_headers=allow)
        except Exception as exc:  # a bug: answer 500, log the traceback, keep serving
            self.server.logger.error(
                "unhandled error",
                request_id=self.request_id,
                error=repr(exc),
                traceback=traceback.format_exc(),
            )
            self.close_connection = True
            if not self._recorded:  # nothing sent yet, so an answer is still possible
                self._send_json(500, {"error": "internal_error", "message": "unexpected error"})
        finally:
            self._in_dispatch = False
            self.server.track(self.connection, busy=False)

    # -- responses ------------------------------------------------------------------------
    def _send_json(
        self, status: int, body: dict[str, Any], extra_headers: dict[str, str] | None = None
    ) -> None:
        data = (json.dumps(body, separators=(",", ":")) + "\n").encode()
        self._send(status, data, "application/json", extra_headers)

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        headers = getattr(self, "headers", None)
        unread_body = (
            headers is not None
            and headers.get("Content-Length", "0") not in ("", "0")
            and not getattr(self, "_body_read", True)
        )
        if unread_body:
            self.close_connection = True  # an unread body would be read as the next request
        if self.server.draining:
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Request-ID", self.request_id)
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        if self.close_connection and "Connection" not in (extra_headers or {}):
            self.send_header("Connection", "close")
        body = b"" if self.command == "HEAD" else data
        # Count and log before any byte leaves: a client that has its answer can rely on
        # /metrics and the log already showing the request.
        self._record(status, len(body))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _record(self, status: int, bytes_out: int) -> None:
        self._recorded = True
        seconds = time.perf_counter() - self._started
        self.server.metrics.observe_request(self._method, self._route, status, seconds)
        fields: dict[str, Any] = {
            "method": self._method,
            "path": getattr(self, "path", None),
            "route": self._route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "bytes_out": bytes_out,
            "remote": self.client_address[0],
            "request_id": self.request_id,
        }
        headers = getattr(self, "headers", None)
        if headers is not None:
            fields["user_agent"] = headers.get("User-Agent")
            if headers.get("X-Forwarded-For"):
                fields["forwarded_for"] = headers.get("X-Forwarded-For")
        self.server.logger.info("request", **fields)

    # -- endpoints ------------------------------------------------------------------------
    def get_health(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._send_json(
            200,
            {
                "status": "ok",
                "uptime_seconds": round(self.server.metrics.uptime(), 3),
                "version": self.server.config.version,
                "storage": "file" if self.server.store.data_dir else "memory",
            },
        )

    def get_version(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        config = self.server.config
        self._send_json(200, {"version": config.version, "revision": config.revision})

    def get_metrics(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        matches, stored = self.server.store.stats()
        text = self.server.metrics.render(
            matches=matches,
            stored=stored,
            version=self.server.config.version,
            revision=self.server.config.revision,
        )
        self._send(200, text.encode(), metrics_module.CONTENT_TYPE)

    def post_event(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        match_id = _match_id(params)
        payload = self._read_json()
        try:
            clean = validate_event(payload)
        except ValidationError as exc:
            self.server.metrics.observe_rejected("invalid_event")
            raise HttpError(400, "invalid_event", str(exc), exc.details) from None
        try:
            event = self.server.store.add(match_id, clean)
        except StorageError as exc:
            self.server.logger.error("storage failure", error=str(exc))
            raise HttpError(
                503, "storage_unavailable", "the event could not be stored; retry later"
            ) from None
        self.server.metrics.observe_event(event["type"])
        self._send_json(201, event)

    def list_events(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        match_id = _match_id(params)
        player = _single(query, "player_id")
        kind = _single(query, "type")
        if kind is not None and kind not in EVENT_TYPES:
            raise HttpError(
                400, "invalid_query", f"type must be one of {', '.join(EVENT_TYPES)}; got {kind!r}"
            )
        events = self.server.store.events(match_id, player_id=player, kind=kind)
        self._send_json(200, {"match_id": match_id, "count": len(events), "events": events})

    def get_summary(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._send_json(200, self.server.store.summary(_match_id(params)))

    # -- request bodies -------------------------------------------------------------------
    def _read_json(self) -> Any:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # the chunks would be read as the next request
            raise HttpError(
                411, "length_required", "chunked bodies are not accepted; send Content-Length"
            )
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            self.close_connection = True
            raise HttpError(411, "length_required", "a JSON body with Content-Length is required")
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise HttpError(
                400, "invalid_content_length", f"bad Content-Length {raw_length!r}"
            ) from None
        if length > MAX_BODY:
            self.server.metrics.observe_rejected("too_large")
            raise HttpError(
                413,
                "payload_too_large",
                f"body is {length} bytes; the limit is {MAX_BODY} bytes (64 KiB)",
            )
        data = self.rfile.read(length)
        self._body_read = True
        if len(data) != length:
            self.close_connection = True
            raise HttpError(400, "incomplete_body", "the body ended before Content-Length bytes")
        try:
            return json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            self.server.metrics.observe_rejected("invalid_json")
            raise HttpError(400, "invalid_json", "body is not UTF-8 text") from None
        except ValueError as exc:
            self.server.metrics.observe_rejected("invalid_json")
            raise HttpError(400, "invalid_json", f"body is not valid JSON: {exc}") from None


def _match(path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        found = route.regex.fullmatch(path)
        if found:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None, {}


def _match_id(params: dict[str, str]) -> str:
    match_id = params["match_id"]
    if not valid_match_id(match_id):
        raise HttpError(
            400,
            "invalid_match_id",
            f"match_id {match_id[:80]!r} is invalid: use 1-64 letters, digits, '_', '.', ':' "
            "or '-', starting with a letter or digit",
        )
    return match_id


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise HttpError(400, "invalid_query", f"give {name} at most once")
    return values[0]


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
