"""Bounds on every wait of a registry request: httpx's limits per operation, and a deadline.

httpx bounds each operation (a connect, each read, each write, the wait for a pooled
connection) but not a request as a whole, so a registry or proxy that trickles a byte now and
then keeps a request alive for ever. `WithDeadline` wraps the transport and gives each request
a deadline, checked at every chunk of its body and of its answer; a request that misses it
fails like a timeout (and is retried like one).

The limits, chosen for a registry:

* connect 10 s: a registry's TCP and TLS handshake takes well under a second; 10 s rides out
  a congested NAT gateway, and anything slower is a host that is down or unroutable.
* read 60 s: the longest silence a healthy registry keeps is before the answer to a blob PUT,
  while it checks the digest of what it received (ECR: seconds, even for large layers).
* write 60 s: a socket that accepts no byte of a 1 MiB chunk for a minute is dead.
* pool 30 s: a client has `concurrency + 2` connections for at most `concurrency` uploads and
  a round of HEADs, so waiting for a free one is short unless requests stall (then those fail).
* deadline 120 s per request, plus the time its body takes at 512 KiB/s (a 1 GiB layer may
  take 35 minutes): slower than that is a link a release should not trust.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

REGISTRY_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=30.0)

_STALLS = (
    # (exception, the limit it names, what ran out)
    (httpx.ConnectTimeout, "connect", "no connection within {}"),
    (httpx.ReadTimeout, "read", "no answer for {}"),
    (httpx.WriteTimeout, "write", "could not send anything for {}"),
    (httpx.PoolTimeout, "pool", "no free connection for {}"),
)


class DeadlineExceeded(httpx.TimeoutException):
    """A request was still going when its whole-request deadline passed."""


@dataclass(frozen=True)
class RequestDeadline:
    """How long one request may take in all: `base` seconds plus its body at `min_rate`."""

    base: float = 120.0
    min_rate: float = 512 * 1024  # bytes per second

    def seconds(self, request: httpx.Request) -> float:
        try:
            size = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            size = 0
        return self.base + size / self.min_rate


class _Bounded(httpx.SyncByteStream):
    """A body (ours or the answer's) that fails once the request's deadline has passed."""

    def __init__(self, stream: httpx.SyncByteStream, ends: float, limit: float,
                 request: httpx.Request) -> None:
        self._stream, self._ends, self._limit, self._request = stream, ends, limit, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            check(self._ends, self._limit, self._request)
            yield chunk

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


def check(ends: float, limit: float, request: httpx.Request) -> None:
    if time.monotonic() > ends:
        raise DeadlineExceeded(f"not done within {limit:.0f} s (the whole-request deadline)",
                               request=request)


class WithDeadline(httpx.BaseTransport):
    """A transport whose requests each end by their deadline, answer included."""

    def __init__(self, inner: httpx.BaseTransport, deadline: RequestDeadline) -> None:
        self._inner, self._deadline = inner, deadline

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        limit = self._deadline.seconds(request)
        ends = time.monotonic() + limit
        if isinstance(request.stream, httpx.SyncByteStream):
            request.stream = _Bounded(request.stream, ends, limit, request)
        response = self._inner.handle_request(request)
        if isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _Bounded(response.stream, ends, limit, request)
        return response

    def close(self) -> None:
        self._inner.close()


def stall_reason(exc: httpx.TimeoutException) -> str:
    """What ran out, for a message: `ReadTimeout: no answer for 60 s`."""
    if isinstance(exc, DeadlineExceeded):
        return f"{type(exc).__name__}: {exc}"
    try:
        limits = exc.request.extensions.get("timeout") or {}
    except RuntimeError:  # raised before a request was attached
        limits = {}
    for kind, name, text in _STALLS:
        if isinstance(exc, kind):
            seconds = limits.get(name)
            amount = f"{seconds:g} s" if isinstance(seconds, int | float) else "too long"
            return f"{kind.__name__}: {text.format(amount)}"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")
