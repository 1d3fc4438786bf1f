"""Every wait of the registry client is bounded, and a long wait is reported while it lasts.

The stalling registries here are real sockets on 127.0.0.1: one accepts and never answers,
one answers a byte at a time; each test is bounded in time.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from shipyard.adapters.registry import (
    BasicAuth,
    RegistryClient,
    RequestRetried,
    RequestWaiting,
)
from shipyard.adapters.registry.auth import Authenticator
from shipyard.adapters.registry.deadline import REGISTRY_TIMEOUT, RequestDeadline
from shipyard.errors import RegistryError

LIMIT = httpx.Timeout(1.0)  # a test's stand-in for the registry limits


@contextmanager
def stalling_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A server on 127.0.0.1 that hands each accepted connection to `answer`; its host."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def _never_answers(connection: socket.socket) -> None:
    connection.recv(65536)  # read the request, then say nothing


def _trickles(connection: socket.socket) -> None:
    connection.recv(65536)
    try:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):  # one byte every 0.2 s: no read ever times out
            connection.sendall(b"x")
            time.sleep(0.2)
    except OSError:
        return


def test_the_default_limits_bound_every_wait() -> None:
    assert (REGISTRY_TIMEOUT.connect, REGISTRY_TIMEOUT.read, REGISTRY_TIMEOUT.write,
            REGISTRY_TIMEOUT.pool) == (10.0, 60.0, 60.0, 30.0)
    request = httpx.Request("PUT", "http://127.0.0.1/", headers={"Content-Length": "1048576"})
    assert RequestDeadline().seconds(request) == 120.0 + 2.0  # 1 MiB at 512 KiB/s
    with RegistryClient("127.0.0.1:5000") as client:
        assert client._session.http.timeout == REGISTRY_TIMEOUT


def test_a_registry_that_never_answers_fails_within_the_limit() -> None:
    events: list = []
    with stalling_server(_never_answers) as host, \
            RegistryClient(host, timeout=LIMIT, max_retries=1, sleep=lambda _: None,
                           wait_notice=0.3, progress=events.append) as client:
        started = time.monotonic()
        with pytest.raises(RegistryError) as caught:
            client.check_auth()
        elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed  # two attempts of 1 s, not 2 x 300 s
    message = str(caught.value)
    assert message.startswith(f"registry {host}: GET /v2/ still failed after 2 attempts")
    assert "ReadTimeout: no answer for 1 s" in message
    # the wait was shown while it lasted, and the retry said why
    assert any(isinstance(e, RequestWaiting) and e.what == "GET /v2/" for e in events)
    assert any(isinstance(e, RequestRetried) and "no answer" in e.reason for e in events)


def test_a_trickling_registry_misses_the_whole_request_deadline() -> None:
    with stalling_server(_trickles) as host, \
            RegistryClient(host, timeout=LIMIT, max_retries=0,
                           deadline=RequestDeadline(base=1.0)) as client:
        started = time.monotonic()
        with pytest.raises(RegistryError, match=r"GET /v2/ still failed after 1 attempts "
                           r"\(DeadlineExceeded: not done within 1 s"):
            client.check_auth()
        assert time.monotonic() - started < 4


def test_a_stalled_first_request_does_not_hold_up_the_others() -> None:
    auth = Authenticator("registry.example.com", BasicAuth("u", "p"), probe_wait=0.2)
    first_in, release = threading.Event(), threading.Event()

    def first() -> None:
        with auth.first_contact("repository:a:pull,push"):
            first_in.set()
            release.wait(10)  # a stalled first request

    thread = threading.Thread(target=first, daemon=True)
    thread.start()
    assert first_in.wait(5)
    started = time.monotonic()
    with auth.first_contact("repository:a:pull,push"):
        waited = time.monotonic() - started
    release.set()
    thread.join(5)
    assert 0.15 <= waited < 2, waited
