"""Plain requests to a service's own endpoints: the health check after a deploy (GETs) and
`shipyard smoke` (any method, with headers and a body).

Every request has its own short timeout, follows no redirect (a redirect could lead to an
address the check refuses; it is reported instead), ignores proxy variables (the address
judged is the one connected to) and reads at most `limit` bytes of an answer. Failures come
back as one short phrase (`ProbeFailed.what`), never an exception's repr with the request in
it. `addresses` resolves a host name so that the caller can judge where it leads first.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from types import TracebackType

import httpx

LOG = logging.getLogger("shipyard.health")


class ProbeFailed(Exception):
    """No HTTP answer: `what` says why in a few words ("connection refused")."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str  # the status's phrase: "Service Unavailable"
    body: bytes  # at most the limit asked for
    location: str = ""  # where a redirect points
    seconds: float = 0.0  # from sending the request to the last byte read


class HttpProbe:
    """One HTTP client for the checks of one deploy; tests may hand in a transport."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(trust_env=False, follow_redirects=False,
                                    transport=transport)

    def __enter__(self) -> HttpProbe:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, *, timeout: float, limit: int = 0) -> Answer:
        """GET `url` within `timeout` seconds (connecting and each read); the body is read
        only up to `limit` bytes (more is cut off: the caller only wants a small JSON)."""
        return self.request("GET", url, timeout=timeout, limit=limit)

    def request(self, method: str, url: str, *, timeout: float, limit: int = 0,
                headers: dict[str, str] | None = None, body: bytes | None = None) -> Answer:
        """`method` `url` with `headers` (beside Accept) and `body`, as `get` reads it."""
        started = time.perf_counter()
        outcome = "no answer"
        try:
            with self._client.stream(method, url, timeout=timeout, content=body,
                                     headers={"Accept": "application/json, */*",
                                              **(headers or {})}) as response:
                outcome = str(response.status_code)
                read = bytearray()
                if limit:
                    for chunk in response.iter_bytes():
                        read += chunk
                        if len(read) > limit:
                            break
                return Answer(response.status_code, response.reason_phrase, bytes(read),
                              response.headers.get("location", ""),
                              time.perf_counter() - started)
        except httpx.TimeoutException:
            outcome = "timeout"
            raise ProbeFailed(f"no answer within {timeout:g}s") from None
        except httpx.ConnectError as exc:
            outcome = "connect error"
            raise ProbeFailed(_connect_failure(exc)) from None
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
            raise ProbeFailed(f"failed: {type(exc).__name__}") from None
        finally:
            LOG.debug("health %s %s %s %.0fms", method, url, outcome,
                      (time.perf_counter() - started) * 1000)

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to (for TCP on `port`)."""
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise ProbeFailed(f"{host} does not resolve ({exc})") from None
        return sorted({str(info[4][0]) for info in found})


def _connect_failure(exc: httpx.ConnectError) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return f"cannot connect ({' '.join(text.split())[:120] or 'no reason given'})"
