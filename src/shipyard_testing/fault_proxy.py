"""A fault-injecting HTTP proxy on 127.0.0.1, put in front of a registry by tests.

Every request goes through `FaultProxy.take_fault`, which picks a fault kind or None (forward
untouched). Faults come from a fixed list (`Fault`: the first `times` requests of a method
whose path matches) or from a seeded `RandomFaults` schedule. The kinds:

- "429" (with Retry-After: 1) and "500", "502", "503", "504": answered by the proxy, the
  registry never sees the request;
- "drop": the body is read, then the connection closes without an answer;
- "reset-mid-body": half the body is read, then the connection is reset (RST);
- "lost-answer": the request reaches the registry (so it takes effect), then the connection
  closes without the answer: a write that happened but was never confirmed;
- "cut-answer": the request reaches the registry, then the client gets the status line and
  headers and half the body (or, for an empty body, half the headers), and the connection
  closes;
- "stall": the request is held, unanswered, for `stall_seconds` (longer than the client's
  read timeout), then the connection closes; the registry never sees it;
- "bit-flip": one bit of the request body is flipped on its way to the registry (which must
  refuse a blob whose digest no longer matches); a request without a body has one bit of the
  answer's body flipped instead (the client must notice).

The proxy also keeps what a test needs to check upload sessions (`UploadSession`): each one
the registry opened through it, whether the client got its Location, and whether the client
completed or cancelled it.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUS_KINDS = ("429", "500", "502", "503", "504")
KINDS = (*STATUS_KINDS, "drop", "reset-mid-body", "lost-answer", "cut-answer", "stall",
         "bit-flip")
# Faults that let the request reach the registry: it may have taken effect.
FORWARDED_KINDS = ("lost-answer", "cut-answer", "bit-flip")
_UPLOAD_SESSION = re.compile(r"/blobs/uploads/([^/?]+)")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "content-length"}


@dataclass
class Fault:
    """Answer the first `times` requests of `method` whose path matches `path` with `kind`."""

    kind: str
    method: str
    path: str
    times: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")


@dataclass
class RandomFaults:
    """A seeded schedule: each request is faulted with probability `rate`, the kind drawn
    from `weights` among those that make sense for it (a body to cut or flip)."""

    seed: int
    rate: float
    weights: Mapping[str, int]
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        self._random = random.Random(self.seed)

    def __call__(self, method: str, path: str, has_body: bool) -> str | None:
        # Two draws per request whatever the outcome, so one request's fate does not shift
        # the schedule of the next.
        roll, pick = self._random.random(), self._random.random()
        if roll >= self.rate:
            return None
        kinds = [kind for kind in self.weights if _applies(kind, method, has_body)]
        total = sum(self.weights[kind] for kind in kinds)
        point = pick * total
        for kind in kinds:
            point -= self.weights[kind]
            if point < 0:
                return kind
        return kinds[-1]


def _applies(kind: str, method: str, has_body: bool) -> bool:
    if kind == "reset-mid-body":
        return has_body
    if kind == "bit-flip":
        return has_body or method == "GET"  # a HEAD's answer has no body to flip
    return True


@dataclass
class UploadSession:
    """An upload session the registry opened through the proxy."""

    repository: str
    uuid: str
    delivered: bool  # the client got the answer naming it, in time
    completed: bool = False  # a PUT to it was answered 201 by the registry
    cancels: list[int | None] = field(default_factory=list)  # the registry's DELETE answers


class FaultProxy:
    """What the proxy did: every request, every fault injected, every upload session."""

    def __init__(self, upstream: str, faults: list[Fault],
                 schedule: Callable[[str, str, bool], str | None] | None,
                 stall_seconds: float, seed: int, late_after: float,
                 echo_credentials: bool) -> None:
        self.upstream = upstream
        self.faults = [[fault, fault.times] for fault in faults]
        self.schedule = schedule
        self.stall_seconds = stall_seconds
        self.late_after = late_after
        self.echo_credentials = echo_credentials
        self.log: list[tuple[str, str]] = []
        self.injected: list[tuple[str, str, str]] = []
        self.sessions: dict[str, UploadSession] = {}
        self.errors: list[str] = []  # the proxy's own errors (a client that hung up first)
        self.lock = threading.Lock()
        self.host = ""
        self._bits = random.Random(seed)

    def take_fault(self, method: str, path: str, has_body: bool) -> str | None:
        with self.lock:
            self.log.append((method, path))
            kind = None
            for entry in self.faults:
                fault, left = entry
                if left > 0 and fault.method == method and re.search(fault.path, path):
                    entry[1] -= 1
                    kind = fault.kind
                    break
            if kind is None and self.schedule is not None:
                kind = self.schedule(method, path, has_body)
            if kind is not None:
                self.injected.append((kind, method, path))
            return kind

    def flip(self, data: bytes) -> bytes:
        with self.lock:
            bit = self._bits.randrange(len(data) * 8)
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        return bytes(flipped)

    def counts(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        with self.lock:
            found: dict[str, int] = {}
            for kind, _, _ in self.injected:
                found[kind] = found.get(kind, 0) + 1
            return found

    def record(self, method: str, path: str, status: int, location: str | None,
               delivered: bool) -> None:
        """Follow upload sessions: opened (202 + Location), completed (201), cancelled."""
        with self.lock:
            if method == "POST" and status == 202 and location:
                found = _UPLOAD_SESSION.search(location.split("?")[0])
                if found:
                    repository = path.split("/v2/", 1)[-1].split("/blobs/", 1)[0]
                    self.sessions[found.group(1)] = UploadSession(repository, found.group(1),
                                                                  delivered)
                return
            found = _UPLOAD_SESSION.search(path)
            session = self.sessions.get(found.group(1)) if found else None
            if session is None:
                return
            if method == "PUT" and status == 201:
                session.completed = True
            elif method == "DELETE":
                session.cancels.append(status)

    def cancel_unanswered(self, method: str, path: str) -> None:
        """A DELETE the client sent that never reached the registry."""
        if method == "DELETE":
            self.record(method, path, -1, None, False)


@dataclass
class _Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            assert "chunked" not in self.headers.get("Transfer-Encoding", "")
            path = self.path.split("?")[0]
            fault = proxy.take_fault(self.command, path, length > 0)
            if fault == "reset-mid-body":
                self.rfile.read(length // 2)
                proxy.cancel_unanswered(self.command, path)
                self._reset()
                return
            body = self.rfile.read(length) if length else b""
            asked = time.monotonic()
            if len(body) < length:  # the client hung up mid-body: nothing to forward
                self._close()
                return
            if fault in (None, "lost-answer", "cut-answer", "bit-flip"):
                flip_answer = fault == "bit-flip" and not body
                if fault == "bit-flip" and body:
                    body = proxy.flip(body)
                answer = self._exchange(body)
                # An answer slower than `late_after` may come after the client gave up.
                delivered = (fault is None or fault == "bit-flip") and (
                    time.monotonic() - asked < proxy.late_after)
                location = dict((k.lower(), v) for k, v in answer.headers).get("location")
                proxy.record(self.command, path, answer.status, location, delivered)
                if fault == "lost-answer":
                    self._close()
                elif fault == "cut-answer":
                    self._answer(answer, cut=True)
                else:
                    if flip_answer and answer.body:
                        answer.body = proxy.flip(answer.body)
                    self._answer(answer)
                return
            proxy.cancel_unanswered(self.command, path)
            if fault == "drop":
                self._close()
            elif fault == "stall":
                # Held without an answer, longer than the client's read timeout; bounded.
                time.sleep(proxy.stall_seconds)
                self._close()
            else:
                self._answer_status(int(fault))

        def _close(self) -> None:
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _reset(self) -> None:
            # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()

        def _answer_status(self, status: int) -> None:
            message = "fault"
            if proxy.echo_credentials:
                # as a careless gateway does: the client must not print this on
                message += f" (Authorization: {self.headers.get('Authorization')})"
            body = json.dumps({"errors": [{"code": "INJECTED", "message": message}]}).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _exchange(self, body: bytes) -> _Answer:
            host, port = proxy.upstream.rsplit(":", 1)
            upstream = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                # Host stays the proxy's, so the registry's Location headers point back here.
                upstream.putrequest(self.command, self.path, skip_host=True,
                                    skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        upstream.putheader(name, value)
                upstream.putheader("Content-Length", str(len(body)))
                upstream.endheaders(body or None)
                answer = upstream.getresponse()
                content = answer.read()
                length = (answer.getheader("Content-Length", "0") if self.command == "HEAD"
                          else str(len(content)))
                headers = [(name, value) for name, value in answer.getheaders()
                           if name.lower() not in _HOP_BY_HOP]
                return _Answer(answer.status, answer.reason, [*headers,
                                                              ("Content-Length", length)],
                               content)
            finally:
                upstream.close()

        def _answer(self, answer: _Answer, cut: bool = False) -> None:
            head = [f"HTTP/1.1 {answer.status} {answer.reason}\r\n".encode("latin-1")]
            head += [f"{name}: {value}\r\n".encode("latin-1") for name, value in answer.headers]
            raw = b"".join(head) + b"\r\n"
            body = answer.body if self.command != "HEAD" else b""
            if cut:
                # Half the body; with none to cut, half the headers.
                raw = raw + body[:len(body) // 2] if body else raw[:len(raw) // 2]
                self.wfile.write(raw)
                self._close()
                return
            self.wfile.write(raw + body)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (a read timeout, a push aborted elsewhere) closes while the
        # proxy still writes: kept for the test to see, not printed into the CLI's stderr.
        error = sys.exc_info()[1]
        with self.proxy.lock:
            self.proxy.errors.append(f"{type(error).__name__}: {error}")


@contextmanager
def fault_proxy(upstream: str, faults: list[Fault] | None = None, *,
                schedule: Callable[[str, str, bool], str | None] | None = None,
                stall_seconds: float = 3.0, seed: int = 0,
                late_after: float = float("inf"),
                echo_credentials: bool = False) -> Iterator[FaultProxy]:
    """A threaded HTTP proxy on 127.0.0.1 in front of `upstream` ("HOST:PORT") that injects
    `faults` (first) and the faults `schedule` picks; `proxy.host` is where to send requests.
    An answer the registry took longer than `late_after` seconds to give is not counted as
    delivered (`UploadSession.delivered`): the client may have timed out before it came.
    With `echo_credentials` the error body of a status fault repeats the request's
    Authorization header, as a careless gateway might."""
    proxy = FaultProxy(upstream, list(faults or []), schedule, stall_seconds, seed,
                       late_after, echo_credentials)
    server = _Server(("127.0.0.1", 0), _handler(proxy))
    server.proxy = proxy
    proxy.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
