"""One listener of a load balancer as a real HTTP reverse proxy on a free 127.0.0.1 port.

The listener's own port (80, 8080, ...) is never bound: each listener gets a free port on
127.0.0.1 (`ListenerProxy.url`). For every request the proxy reads the listener's rules from
moto at that moment (so ModifyListener and ModifyRule, as CodeDeploy uses them, apply to the
next request and never to one in flight), then:

- `forward`: picks a target group by the action's weights (smooth weighted round-robin, so 80/20
  is 80/20 over any 10 requests), then a `healthy` target of it in turn (or, when none is, one
  still in its first checks: `HealthMonitor.routable`), and sends the request through the
  target's Unix socket (`TargetDirectory`) with X-Forwarded-For/-Proto/-Port and
  X-Amzn-Trace-Id added; 503 when the group has no such target, 502 when the target cannot
  be reached or answers no valid HTTP, 504 when it answers nothing within IDLE_TIMEOUT;
- `fixed-response` and `redirect` answer as ALB does.

A request to a target counts as in flight on it: deregistration stops new requests but never
cuts one in flight. At most MAX_CONNECTIONS client connections are served at once (more wait
to be accepted). Request bodies are read whole (at most MAX_BODY bytes: 413 beyond);
responses stream. Upstream connections are not kept alive (one per request).
"""

from __future__ import annotations

import contextlib
import http.client
import secrets
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shipyard_sandbox.elb import knobs
from shipyard_sandbox.elb.rules import Request, rule_for, terminal_action, weighted_target_groups
from shipyard_sandbox.runtime.forwarder import ForwarderError, connect

if TYPE_CHECKING:
    from shipyard_sandbox.elb.bridge import ElbBridge

IDLE_TIMEOUT = 60.0  # ALB's default idle timeout: a request with no answer by then is a 504
MAX_BODY = 64 * 1024 * 1024
CHUNK = 65536
POLL = 0.1  # seconds
MAX_WEIGHT_STATES = 1024
MAX_CONNECTIONS = 256  # open client connections per listener; more wait in the listen queue
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"}
REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
           413: "Request Entity Too Large", 400: "Bad Request"}


class SmoothWeights:
    """Smooth weighted round-robin (as nginx): each pick adds every weight to its running sum
    and takes the largest, which it then lowers by the total."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[tuple[str, ...], dict[str, int]] = {}

    def pick(self, key: tuple[str, ...], weights: list[tuple[str, int]]) -> str | None:
        weights = [(name, weight) for name, weight in weights if weight > 0]
        if not weights:
            return None
        total = sum(w for _, w in weights)
        with self._lock:
            if len(self._current) > MAX_WEIGHT_STATES:  # weights shifted many times: start over
                self._current.clear()
            current = self._current.setdefault(key + tuple(f"{n}={w}" for n, w in weights), {})
            for name, weight in weights:
                current[name] = current.get(name, 0) + weight
            chosen = max(weights, key=lambda item: current[item[0]])[0]
            current[chosen] -= total
            return chosen


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: ListenerProxy

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Waits (in the accepting thread) while MAX_CONNECTIONS connections are open, until
        # one ends or the listener stops.
        while not self.slots.acquire(timeout=POLL):
            if self.proxy.stopping:
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return  # a client that went away: nothing to tell
        super().handle_error(request, client_address)


class ListenerProxy:
    """The local HTTP server standing for one listener."""

    def __init__(self, bridge: ElbBridge, backend: Any, listener: Any) -> None:
        self.bridge = bridge
        self.backend = backend
        self.arn = listener.arn
        self.load_balancer_arn = listener.load_balancer_arn
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.proxy = self
        self.port = self.server.server_address[1]
        self.stopping = False
        self._idle: set[socket.socket] = set()
        self._idle_lock = threading.Lock()
        # A short poll: `stop` (DeleteListener) waits for the serving loop to notice.
        self._thread = threading.Thread(target=self.server.serve_forever, args=(POLL,),
                                        daemon=True, name=f"elb-listener-{self.port}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the port; requests in flight finish, idle kept-alive connections end."""
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()
        with self._idle_lock:
            idle = list(self._idle)
        for sock in idle:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def listener(self) -> Any | None:
        balancer = self.backend.load_balancers.get(self.load_balancer_arn)
        return balancer.listeners.get(self.arn) if balancer else None

    def idle(self, sock: socket.socket, idle: bool) -> None:
        with self._idle_lock:
            (self._idle.add if idle else self._idle.discard)(sock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awselb/2.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT  # an idle kept-alive connection ends, as on ALB
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # access logs are not modelled

    def handle_one_request(self) -> None:
        proxy = self.server.proxy
        if proxy.stopping:  # the listener is gone: no further request on this connection
            self.close_connection = True
            return
        proxy.idle(self.connection, True)
        try:
            super().handle_one_request()
        finally:
            proxy.idle(self.connection, False)

    def parse_request(self) -> bool:
        self.server.proxy.idle(self.connection, False)
        return super().parse_request()

    def _serve(self) -> None:
        proxy = self.server.proxy
        listener = proxy.listener()
        try:
            body = self._read_body()
        except ValueError:
            self._elb_answer(proxy, None, 400)
            return
        except OverflowError:
            self._elb_answer(proxy, None, 413)
            return
        if listener is None:  # deleted while this connection was open
            self._elb_answer(proxy, None, 503)
            return
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path or "/", parts.query,
                          self.headers.get("Host", ""),
                          {k.lower(): v for k, v in self.headers.items()},
                          self.client_address[0])
        rule = rule_for(listener, request)
        action = terminal_action(rule) if rule else None
        if action is None:
            self._elb_answer(proxy, None, 503)
        elif action.type == "fixed-response":
            self._fixed(proxy, action.data.get("FixedResponseConfig") or {})
        elif action.type == "redirect":
            self._redirect(proxy, listener, request, action.data.get("RedirectConfig") or {})
        elif action.type == "forward":
            self._forward(proxy, listener, rule, action, body)
        else:
            self._elb_answer(proxy, None, 503)
        if proxy.stopping:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    # --- the request ------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        size = int(length)  # ValueError: a 400
        if size < 0:
            raise ValueError(length)
        if size > MAX_BODY:
            raise OverflowError(size)
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        for _ in range(MAX_BODY):  # bounded: every chunk holds at least one byte
            size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                for _ in range(256):  # trailers, until the empty line
                    if self.rfile.readline(8192) in (b"\r\n", b"\n", b""):
                        break
                break
            total += size
            if total > MAX_BODY:
                raise OverflowError(total)
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)
        return b"".join(parts)

    # --- forward ----------------------------------------------------------------------

    def _forward(self, proxy: ListenerProxy, listener: Any, rule: Any, action: Any,
                 body: bytes | None) -> None:
        bridge = proxy.bridge
        groups = weighted_target_groups(action)
        group_arn = bridge.weights.pick((proxy.arn, str(rule.arn)), groups)
        if group_arn is None:
            self._elb_answer(proxy, None, 503)
            return
        target = bridge.take_target(group_arn)
        if target is None:
            self._elb_answer(proxy, group_arn, 503)
            return
        state, endpoint = target
        try:
            status = knobs.http_fault(bridge.account_id, bridge.region, endpoint.task_arn,
                                      endpoint.container_name, self.path)
            if status is not None:  # a fault knob: answered as if by the task
                self._knob_answer(proxy, group_arn, status)
                return
            self._relay(proxy, listener, group_arn, endpoint.socket_path, body)
        finally:
            bridge.release_target(state)

    def _knob_answer(self, proxy: ListenerProxy, group_arn: str, status: int) -> None:
        proxy.bridge.metrics.record(proxy.load_balancer_arn, group_arn, status,
                                    from_target=True, response_time=0.0)
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:  # a 5xx code no standard names
            reason = "Server Error"
        body = f"{status} {reason} (sandbox fault knob)\n".encode()
        self.send_response_only(status, reason)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _upstream_headers(self, listener: Any) -> list[tuple[str, str]]:
        named = {h.strip().lower() for h in self.headers.get("Connection", "").split(",")}
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP | named
                   and not k.lower().startswith("x-forwarded-")]
        forwarded_for = self.headers.get("X-Forwarded-For")
        client = self.client_address[0]
        headers += [
            ("X-Forwarded-For", f"{forwarded_for}, {client}" if forwarded_for else client),
            ("X-Forwarded-Proto", (listener.protocol or "HTTP").lower()),
            ("X-Forwarded-Port", str(listener.port)),
            ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"),
            ("Connection", "close"),
        ]
        return headers

    def _relay(self, proxy: ListenerProxy, listener: Any, group_arn: str, socket_path: Any,
               body: bytes | None) -> None:
        metrics = proxy.bridge.metrics
        connection = http.client.HTTPConnection("target", timeout=IDLE_TIMEOUT)
        try:
            connection.sock = connect(socket_path, IDLE_TIMEOUT)
            connection.putrequest(self.command, self.path, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in self._upstream_headers(listener):
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            sent = time.monotonic()
            connection.endheaders(body)
            answer = connection.getresponse()
            elapsed = time.monotonic() - sent
        except TimeoutError:
            connection.close()
            self._elb_answer(proxy, group_arn, 504)
            return
        except (ForwarderError, OSError, http.client.HTTPException):
            connection.close()
            self._elb_answer(proxy, group_arn, 502)
            return
        metrics.record(proxy.load_balancer_arn, group_arn, answer.status, from_target=True,
                       response_time=elapsed)
        try:
            self._send_answer(answer)
        finally:
            connection.close()

    def _send_answer(self, answer: http.client.HTTPResponse) -> None:
        self.send_response_only(answer.status, answer.reason)
        named = {h.strip().lower() for h in (answer.getheader("Connection") or "").split(",")}
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP | named | {"content-length"}:
                self.send_header(name, value)
        length = answer.getheader("Content-Length")
        no_body = self.command == "HEAD" or answer.status in (204, 304) or answer.status < 200
        chunked = False
        if length is not None:
            self.send_header("Content-Length", length)
        elif not no_body and self.request_version == "HTTP/1.1":
            self.send_header("Transfer-Encoding", "chunked")
            chunked = True
        elif not no_body:
            self.close_connection = True  # an HTTP/1.0 client reads to the end
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if no_body:
            return
        try:
            for _ in range(1 << 30):  # bounded by the body's size
                data = answer.read1(CHUNK) if hasattr(answer, "read1") else answer.read(CHUNK)
                if not data:
                    break
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked
                                 else data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):
            self.close_connection = True  # the target broke off: so does the client's answer

    # --- answers of the load balancer itself ------------------------------------------

    def _elb_answer(self, proxy: ListenerProxy, group_arn: str | None, status: int,
                    content_type: str = "text/html", body: bytes | None = None,
                    headers: list[tuple[str, str]] | None = None) -> None:
        proxy.bridge.metrics.record(proxy.load_balancer_arn, group_arn, status,
                                    from_target=False)
        if body is None:
            title = f"{status} {REASONS.get(status, '')}".strip()
            body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center>"
                    f"<h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n").encode()
        self.send_response_only(status, REASONS.get(status))
        self.send_header("Server", "awselb/2.0")
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers or []:
            self.send_header(name, value)
        if status >= 500 or self.close_connection:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fixed(self, proxy: ListenerProxy, config: dict[str, Any]) -> None:
        status = int(config.get("StatusCode", 200))
        self._elb_answer(proxy, None, status, config.get("ContentType") or "text/plain",
                         str(config.get("MessageBody", "")).encode())

    def _redirect(self, proxy: ListenerProxy, listener: Any, request: Request,
                  config: dict[str, Any]) -> None:
        host = request.host.rsplit(":", 1)[0] if request.host.count(":") == 1 else request.host
        values = {"#{protocol}": (listener.protocol or "HTTP").upper(),
                  "#{host}": host, "#{port}": str(listener.port),
                  "#{path}": request.path.lstrip("/"), "#{query}": request.query}

        def fill(key: str, default: str) -> str:
            text = str(config.get(key) or default)
            for placeholder, value in values.items():
                text = text.replace(placeholder, value)
            return text

        protocol = fill("Protocol", "#{protocol}").lower()
        port = fill("Port", "#{port}")
        default_port = {"http": "80", "https": "443"}.get(protocol)
        location = f"{protocol}://{fill('Host', '#{host}')}"
        location += "" if port == default_port else f":{port}"
        location += fill("Path", "/#{path}")
        query = fill("Query", "#{query}")
        location += f"?{query}" if query else ""
        status = 301 if str(config.get("StatusCode", "HTTP_301")).endswith("301") else 302
        self._elb_answer(proxy, None, status, body=b"", headers=[("Location", location)])
