"""Bad input: every rejection is a JSON error that names the problem."""

from __future__ import annotations

import json
import socket

import pytest

EVENTS = "/v1/matches/m1/events"
GOOD = {"player_id": "alice", "type": "kill", "value": 1}


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"type": "kill", "value": 1}, "player_id", "is required"),
        ({**GOOD, "player_id": ""}, "player_id", "non-empty string"),
        ({**GOOD, "player_id": 7}, "player_id", "non-empty string"),
        ({**GOOD, "player_id": "x" * 129}, "player_id", "at most 128"),
        ({"player_id": "a", "value": 1}, "type", "is required"),
        ({**GOOD, "type": "assist"}, "type", "must be one of kill, death, score, join, leave"),
        ({**GOOD, "type": 3}, "type", "must be one of"),
        ({"player_id": "a", "type": "kill"}, "value", "is required"),
        ({**GOOD, "value": -1}, "value", "integer >= 0"),
        ({**GOOD, "value": 1.5}, "value", "integer >= 0"),
        ({**GOOD, "value": "3"}, "value", "integer >= 0"),
        ({**GOOD, "value": True}, "value", "integer >= 0"),
        ({**GOOD, "value": 2**63}, "value", "integer >= 0"),
        ({**GOOD, "ts": "yesterday"}, "ts", "ISO 8601"),
        ({**GOOD, "ts": "2024-05-01T12:00:00"}, "ts", "time zone"),
        ({**GOOD, "ts": -5}, "ts", "non-negative"),
        ({**GOOD, "ts": True}, "ts", "not a boolean"),
        ({**GOOD, "ts": 1e300}, "ts", "out of range"),
        ({**GOOD, "ts": [1]}, "ts", "ISO 8601"),
        ({**GOOD, "extra": 1}, "extra", "unknown field"),
    ],
)
def test_invalid_event_fields(app, body, field, fragment):
    resp = app.post(EVENTS, body)
    assert resp.status == 400
    error = resp.json()
    assert error["error"] == "invalid_event"
    assert any(d["field"] == field and fragment in d["message"] for d in error["details"]), error
    assert field in error["message"]


def test_every_bad_field_is_reported_at_once(app):
    error = app.post(EVENTS, {"player_id": "", "type": "nope", "value": -1}).json()
    assert [d["field"] for d in error["details"]] == ["player_id", "type", "value"]


def test_null_ts_means_absent(app):
    assert app.post(EVENTS, {**GOOD, "ts": None}).status == 201


@pytest.mark.parametrize("raw", [b"not json", b"{", b"", b"\xff\xfe"])
def test_body_that_is_not_json(app, raw):
    resp = app.post(EVENTS, raw=raw)
    assert resp.status == 400
    assert resp.json()["error"] == "invalid_json"
    assert "body is not" in resp.json()["message"]


@pytest.mark.parametrize("body", [[GOOD], "text", 3, None])
def test_body_must_be_an_object(app, body):
    resp = app.post(EVENTS, raw=json.dumps(body).encode())
    assert resp.status == 400
    assert resp.json()["details"][0]["field"] == "body"


@pytest.mark.parametrize("match_id", ["-leading-dash", "a" * 65, "sp%20ace", "%2F"])
def test_invalid_match_id(app, match_id):
    resp = app.post(f"/v1/matches/{match_id}/events", GOOD)
    assert resp.status == 400
    assert resp.json()["error"] == "invalid_match_id"
    assert app.get(f"/v1/matches/{match_id}/summary").status == 400


def test_body_over_64_kib_is_413_and_not_stored(app):
    big = {**GOOD, "player_id": "x" * (64 * 1024)}
    resp = app.post(EVENTS, big)
    assert resp.status == 413
    assert resp.json()["error"] == "payload_too_large"
    assert "65536" in resp.json()["message"]
    assert app.get(EVENTS).json()["count"] == 0


def test_body_of_exactly_64_kib_is_read(app):
    raw = b'{"player_id":"a","type":"kill","value":1}'
    raw = raw + b" " * (64 * 1024 - len(raw))
    assert len(raw) == 65536
    assert app.post(EVENTS, raw=raw).status == 201


def test_bad_query_type(app):
    resp = app.get(EVENTS + "?type=assist")
    assert resp.status == 400
    assert resp.json()["error"] == "invalid_query"
    assert app.get(EVENTS + "?type=kill&type=death").status == 400


def _raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def test_missing_content_length_is_411(app):
    reply = _raw_exchange(
        app.port, b"POST /v1/matches/m1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert reply.startswith(b"HTTP/1.1 411 ")
    assert b'"error":"length_required"' in reply


def test_chunked_body_is_411_and_connection_closed(app):
    reply = _raw_exchange(
        app.port,
        b"POST /v1/matches/m1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 411 ")
    assert b"Connection: close" in reply


def test_bad_content_length_is_400(app):
    reply = _raw_exchange(
        app.port, b"POST /v1/matches/m1/events HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n"
    )
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b'"error":"invalid_content_length"' in reply


def test_oversized_body_closes_connection_without_reading_it(app):
    # Announce 1 MiB but send nothing: the server must answer 413 at once and close,
    # instead of waiting for the body or reading it as the next request.
    reply = _raw_exchange(
        app.port,
        b"POST /v1/matches/m1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in reply


def test_malformed_request_line_gets_json_error(app):
    # The base class answers a request line it cannot parse HTTP/0.9-style: body only.
    reply = _raw_exchange(app.port, b"GET /health HTTP/x.y\r\nHost: x\r\n\r\n")
    assert b'"error":"bad_request"' in reply
    assert b"Bad request version" in reply
    reply = _raw_exchange(app.port, b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n")
    assert b'"error":"http_version_not_supported"' in reply
