"""Graceful shutdown, driven on the server object: in-flight requests finish, idle ones close."""

from __future__ import annotations

import socket
import threading
import time

BODY = b'{"player_id": "alice", "type": "kill", "value": 1}'


def _read_reply(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def test_request_in_flight_completes_during_shutdown(app):
    sock = socket.create_connection(("127.0.0.1", app.port), timeout=5)
    head = (
        b"POST /v1/matches/m1/events HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    )
    sock.sendall(head + BODY[:10])  # the handler is now busy reading the body
    deadline = time.monotonic() + 5
    while not any(app.server._connections.values()) and time.monotonic() < deadline:
        time.sleep(0.01)

    app.server.shutdown()  # stop accepting, as on SIGTERM
    result: list[bool] = []
    drainer = threading.Thread(target=lambda: result.append(app.server.drain(5)))
    drainer.start()
    time.sleep(0.2)
    assert drainer.is_alive(), "drain must wait for the busy connection"

    sock.sendall(BODY[10:])
    reply = _read_reply(sock)  # the server closes after answering
    sock.close()
    drainer.join(5)
    assert reply.startswith(b"HTTP/1.1 201 ")
    assert b"Connection: close" in reply
    assert result == [True]
    assert len(app.server.store.events("m1")) == 1


def test_idle_keep_alive_connections_are_closed_at_once(app):
    conn = app.connect()
    assert app.get("/health", conn=conn).status == 200  # keep-alive: the connection stays open
    app.server.shutdown()
    started = time.monotonic()
    assert app.server.drain(5) is True
    assert time.monotonic() - started < 1
    conn.close()


def test_grace_period_bounds_the_wait(app):
    sock = socket.create_connection(("127.0.0.1", app.port), timeout=5)
    sock.sendall(b"POST /v1/matches/m1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
    deadline = time.monotonic() + 5
    while not any(app.server._connections.values()) and time.monotonic() < deadline:
        time.sleep(0.01)
    app.server.shutdown()
    started = time.monotonic()
    assert app.server.drain(0.3) is False  # the client never finishes its body
    assert 0.3 <= time.monotonic() - started < 2
    assert any(r["message"] == "shutdown grace period over" for r in app.logs())
    sock.close()
