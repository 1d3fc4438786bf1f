"""The request handler: connection bookkeeping, dispatch by ``ROUTES``, JSON responses and
errors, metrics and JSON access logs. The endpoints themselves are in ``gamepulse.endpoints``."""

from __future__ import annotations

import json
import re
import time
import traceback
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from gamepulse.endpoints import Endpoints
from gamepulse.routes import HttpError, Route, match_route

if TYPE_CHECKING:
    from gamepulse.server import GamePulseServer

# Longer than an ALB's default 60 s idle timeout, as AWS recommends for targets, so the load
# balancer, not us, closes idle connections (avoids 502s on a reused, just-closed socket).
IDLE_TIMEOUT = 75.0
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class Handler(Endpoints, BaseHTTPRequestHandler):
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
            route, params = match_route(url.path)
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
