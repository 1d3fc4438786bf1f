"""Requests to one registry: the pooled HTTP client, retries with backoff, errors in our terms.

Every request goes through `Session.attempt`: it adds credentials, answers one auth challenge,
and turns 408/429/5xx answers and connection errors into `Retry`; `Session.retrying` repeats
an attempt with exponential backoff and jitter, honouring `Retry-After`. Answers that are not
worth retrying come back to the caller, which turns refusals into `failure(...)`.
"""

from __future__ import annotations

import random
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import urljoin

import httpx

from shipyard.adapters.registry.answers import (
    RETRIABLE_STATUSES,
    describe,
    fix_for,
    retry_after,
)
from shipyard.adapters.registry.auth import Authenticator
from shipyard.adapters.registry.deadline import (
    REGISTRY_TIMEOUT,
    RequestDeadline,
    WithDeadline,
    stall_reason,
)
from shipyard.adapters.registry.events import ProgressEvent, RequestRetried
from shipyard.adapters.registry.names import is_loopback_host
from shipyard.adapters.registry.waits import WaitWatch
from shipyard.call_log import REGISTRY_LOG as _log
from shipyard.call_log import registry_call
from shipyard.errors import RegistryError
from shipyard.redaction import register_secret

_T = TypeVar("_T")
USER_AGENT = "shipyard-registry-client/1"
Body = bytes | Callable[[], Iterable[bytes]] | None


class Retry(Exception):
    """One attempt failed in a way worth retrying (status or connection error)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _OnFirstUse(httpx.BaseTransport):
    """httpx's default (TLS-verifying) transport, made when the first request needs it.

    Making it loads the CA bundle (tens of milliseconds); a loopback registry over plain HTTP
    never needs it, so a sandbox push does not pay for it.
    """

    def __init__(self, make: Callable[[], httpx.BaseTransport]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._transport: httpx.BaseTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            with self._lock:
                if self._transport is None:
                    self._transport = self._make()
        return self._transport.handle_request(request)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def http_client(base_url: str, transport: httpx.BaseTransport | None, connections: int,
                timeout: httpx.Timeout | float | None,
                deadline: RequestDeadline | None = None) -> httpx.Client:
    """One pooled, keep-alive HTTP/1.1 client for every thread of a RegistryClient."""
    loopback = is_loopback_host(httpx.URL(base_url).netloc.decode("ascii"))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    mounts: dict[str, httpx.BaseTransport] = {}
    deadline = deadline or RequestDeadline()
    if transport is None:
        transport = _OnFirstUse(lambda: httpx.HTTPTransport(limits=limits,
                                                            trust_env=not loopback))
        if base_url.startswith("http://"):
            # Plain HTTP to the loopback registry: no TLS ever happens on this transport. Its
            # context has no CA loaded, so anything that did try TLS through it would fail.
            mounts["http://"] = WithDeadline(httpx.HTTPTransport(
                verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), limits=limits, trust_env=False),
                deadline)
    return httpx.Client(
        transport=WithDeadline(transport, deadline),
        mounts=mounts or None,
        timeout=timeout or REGISTRY_TIMEOUT,
        headers={"User-Agent": USER_AGENT},
        # Proxy variables are for reaching the internet; a loopback registry is local.
        trust_env=not loopback,
    )


class Session:
    """The requests of one RegistryClient: authentication, retries and error translation."""

    def __init__(self, host: str, http: httpx.Client, auth: Authenticator, *,
                 max_retries: int, sleep: Callable[[float], None], backoff_base: float,
                 backoff_cap: float, max_retry_after: float,
                 emit: Callable[[ProgressEvent], None], wait_notice: float = 5.0) -> None:
        self.host = host
        self.http = http
        self.auth = auth
        self.waits = WaitWatch(emit, wait_notice)
        if auth.credentials is not None:
            register_secret(auth.credentials.password)
        self.retries = 0
        self._max_retries = max_retries
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_retry_after = max_retry_after
        self._emit = emit
        self._random = random.Random()
        self._lock = threading.Lock()

    def call(self, method: str, url: str, *, scope: str, what: str,
             headers: Mapping[str, str] | None = None, body: bytes | None = None,
             follow_redirects: bool = False) -> httpx.Response:
        """One request, retried on retriable failures; returns any non-retriable answer."""
        return self.retrying(what, lambda: self.attempt(
            method, url, scope=scope, what=what, headers=headers, body=body,
            follow_redirects=follow_redirects))

    def retrying(self, what: str, attempt: Callable[[], _T]) -> _T:
        """Run `attempt` until it stops raising Retry, with backoff; at most max_retries+1."""
        number = 0
        while True:
            try:
                return attempt()
            except Retry as retry:
                if number >= self._max_retries:
                    raise RegistryError(
                        f"registry {self.host}: {what} still failed after {number + 1} "
                        f"attempts ({retry.reason}); check that the registry is reachable and "
                        "healthy, then push again") from retry.__cause__
                delay = self._delay(number, retry.retry_after)
                number += 1
                with self._lock:
                    self.retries += 1
                _log.debug("%s failed (%s); retry %d in %.2fs", what, retry.reason, number,
                           delay)
                self._emit(RequestRetried(what, number, delay, retry.reason))
                self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Wait with the client's sleep (a test's fake one, too)."""
        self._sleep(seconds)

    def _delay(self, number: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_retry_after)
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** number)
        # "Equal jitter": at least half the backoff, so parallel uploads that failed together
        # do not all come back at the same instant.
        return self._random.uniform(ceiling / 2, ceiling)

    def attempt(self, method: str, url: str, *, scope: str, what: str,
                headers: Mapping[str, str] | None = None, body: Body = None,
                params: Mapping[str, str] | None = None,
                follow_redirects: bool = False,
                timeout: float | None = None) -> httpx.Response:
        """Send once, answering one auth challenge; raise Retry for retriable outcomes.

        `body` is bytes or a factory of a fresh iterator, so the request can be sent again
        after a 401 challenge without having buffered a streamed blob. `timeout` replaces
        the client's limits for this request.
        """
        limits = {} if timeout is None else {"timeout": timeout}
        answered_challenge = False
        while True:
            with self.auth.first_contact(scope):
                request_headers = dict(headers or {})
                if self.same_registry(url):
                    request_headers.update(self.auth.headers(scope))
                content = body() if callable(body) else body
                response = self.send(method, url, what, headers=request_headers,
                                     content=content, params=params,
                                     follow_redirects=follow_redirects, **limits)
                if response.status_code in RETRIABLE_STATUSES:
                    raise Retry(describe(response), retry_after(response))
                sent = request_headers.get("Authorization")
                if (response.status_code == 401 and not answered_challenge
                        and self.auth.answer_challenge(response, scope, sent, self._get)):
                    answered_challenge = True
                    continue
            if response.status_code in (401, 403):
                raise self.auth.refusal(response, what, sent is not None)
            return response

    def _get(self, url: httpx.URL, params: Sequence[tuple[str, str]],
             headers: Mapping[str, str], what: str) -> httpx.Response:
        """A GET to another service (a token realm), retried like our own requests."""
        def once() -> httpx.Response:
            answer = self.send("GET", url, what, params=params, headers=headers)
            if answer.status_code in RETRIABLE_STATUSES:
                raise Retry(describe(answer), retry_after(answer))
            return answer

        return self.retrying(what, once)

    def send(self, method: str, url: str | httpx.URL, what: str,
             **options: object) -> httpx.Response:
        """One HTTP exchange, logged; httpx's errors become Retry (network) or RegistryError."""
        try:
            with registry_call(method, url, options.get("params")) as call, \
                    self.waits.watch(what) as wait:
                content = options.get("content")
                if content is not None and not isinstance(content, bytes):
                    # A streamed body is progress: only a silence afterwards is a wait.
                    options["content"] = wait.moving(content)  # type: ignore[arg-type]
                response = self.http.request(method, url, **options)  # type: ignore[arg-type]
                call.answered(response.status_code)
                return response
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise RegistryError(f"registry {self.host}: {what} could not be sent "
                                f"({type(exc).__name__}); check the registry host") from exc
        except httpx.TimeoutException as exc:
            # A stalled connection or registry: say which limit ran out, and try again.
            raise Retry(stall_reason(exc)) from exc
        except httpx.TransportError as exc:
            # Connection refused or reset, a peer that hung up mid-answer: the request may
            # not have arrived, so it is worth another try.
            raise Retry(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise RegistryError(f"registry {self.host}: {what} failed "
                                f"({type(exc).__name__}); check the registry host") from exc

    def failure(self, response: httpx.Response, what: str) -> RegistryError:
        """The RegistryError for an answer we cannot use, naming the request and the fix."""
        return RegistryError(f"registry {self.host}: {what} answered "
                             f"{self.auth.mask(describe(response))}; {fix_for(response)}")

    def same_registry(self, url: str | httpx.URL) -> bool:
        try:
            return httpx.URL(str(url)).netloc.decode("ascii", "replace") == self.host
        except httpx.InvalidURL:
            return False

    def checked_url(self, url: str, what: str) -> str:
        """A URL the registry gave us, refused when it would leave TLS for another host."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise RegistryError(f"registry {self.host}: {what} answered with an invalid "
                                "Location; the registry does not follow the distribution "
                                "spec") from exc
        host = parsed.netloc.decode("ascii", "replace")
        if parsed.scheme != "https" and not (parsed.scheme == "http" and is_loopback_host(host)):
            raise RegistryError(f"registry {self.host}: {what} sent us to a non-HTTPS URL on "
                                f"{host}; refusing to upload without TLS")
        return url

    def next_page(self, response: httpx.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        url = urljoin(str(response.url), link)
        if not self.same_registry(url):
            raise RegistryError(f"registry {self.host}: the tag list links to another host; "
                                "refusing to follow it")
        return url
