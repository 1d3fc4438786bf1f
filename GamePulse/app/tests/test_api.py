"""Every endpoint, over real HTTP against the real server."""

from __future__ import annotations

import re
import threading

import pytest

EVENTS = "/v1/matches/m-1/events"


def event(player: str = "alice", kind: str = "kill", value: int = 1, **extra):
    return {"player_id": player, "type": kind, "value": value, **extra}


def test_health_reports_ok_and_uptime(app):
    resp = app.get("/health")
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["status"] == "ok"
    assert body["uptime_seconds"] >= 0
    assert body["storage"] == "memory"
    assert resp.headers["server"] == "GamePulse"


def test_head_health_has_no_body(app):
    resp = app.request("HEAD", "/health")
    assert resp.status == 200
    assert resp.body == b""
    assert int(resp.headers["content-length"]) > 0


def test_version_comes_from_config(app):
    assert app.get("/version").json() == {"version": "1.2.3", "revision": "abc1234"}


def test_post_event_returns_stored_event(app):
    resp = app.post(EVENTS, event(ts="2024-05-01T12:00:00Z"))
    assert resp.status == 201
    body = resp.json()
    assert body["match_id"] == "m-1"
    assert body["player_id"] == "alice"
    assert body["type"] == "kill"
    assert body["value"] == 1
    assert body["ts"] == "2024-05-01T12:00:00.000Z"
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["received_at"])


@pytest.mark.parametrize(
    ("ts", "stored"),
    [
        (1714564800, "2024-05-01T12:00:00.000Z"),
        (1714564800.25, "2024-05-01T12:00:00.250Z"),
        ("2024-05-01T21:00:00+09:00", "2024-05-01T12:00:00.000Z"),
    ],
)
def test_ts_forms_are_normalised_to_utc(app, ts, stored):
    assert app.post(EVENTS, event(ts=ts)).json()["ts"] == stored


def test_ts_defaults_to_receive_time(app):
    body = app.post(EVENTS, event()).json()
    assert body["ts"] == body["received_at"]


def test_list_events_in_arrival_order_with_filters(app):
    app.post(EVENTS, event("alice", "join", 1))
    app.post(EVENTS, event("bob", "join", 1))
    app.post(EVENTS, event("alice", "kill", 2))
    resp = app.get(EVENTS)
    assert resp.status == 200
    body = resp.json()
    assert body["match_id"] == "m-1"
    assert body["count"] == 3
    assert [(e["player_id"], e["type"]) for e in body["events"]] == [
        ("alice", "join"),
        ("bob", "join"),
        ("alice", "kill"),
    ]
    assert app.get(EVENTS + "?player_id=alice").json()["count"] == 2
    assert app.get(EVENTS + "?type=join").json()["count"] == 2
    assert app.get(EVENTS + "?player_id=bob&type=kill").json()["count"] == 0


def test_matches_are_separate_and_unknown_match_is_empty(app):
    app.post(EVENTS, event())
    assert app.get("/v1/matches/other/events").json() == {
        "match_id": "other",
        "count": 0,
        "events": [],
    }


def test_summary_totals_per_player(app):
    for body in [
        event("alice", "join", 1),
        event("alice", "kill", 1),
        event("alice", "kill", 2),
        event("alice", "score", 150),
        event("bob", "join", 1),
        event("bob", "death", 1),
        event("bob", "leave", 1),
    ]:
        assert app.post(EVENTS, body).status == 201
    resp = app.get("/v1/matches/m-1/summary")
    assert resp.status == 200
    assert resp.json() == {
        "match_id": "m-1",
        "event_count": 7,
        "player_count": 2,
        "players": {
            "alice": {"kill": 3, "death": 0, "score": 150, "join": 1, "leave": 0, "events": 4},
            "bob": {"kill": 0, "death": 1, "score": 0, "join": 1, "leave": 1, "events": 3},
        },
    }


def test_summary_of_unknown_match_is_empty(app):
    assert app.get("/v1/matches/nobody/summary").json() == {
        "match_id": "nobody",
        "event_count": 0,
        "player_count": 0,
        "players": {},
    }


def test_metrics_count_requests_and_events(app):
    app.get("/health")
    app.post(EVENTS, event(kind="kill"))
    app.post(EVENTS, event(kind="kill"))
    app.post(EVENTS, event(kind="score", value=10))
    app.post(EVENTS, {"player_id": "x"})
    resp = app.get("/metrics")
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = resp.text.splitlines()
    assert 'gamepulse_http_requests_total{method="GET",route="/health",status="200"} 1' in lines
    route = 'route="/v1/matches/{match_id}/events"'
    assert f'gamepulse_http_requests_total{{method="POST",{route},status="201"}} 3' in lines
    assert f'gamepulse_http_requests_total{{method="POST",{route},status="400"}} 1' in lines
    assert 'gamepulse_events_received_total{type="kill"} 2' in lines
    assert 'gamepulse_events_received_total{type="score"} 1' in lines
    assert 'gamepulse_events_received_total{type="death"} 0' in lines
    assert 'gamepulse_events_rejected_total{reason="invalid_event"} 1' in lines
    assert "gamepulse_events_stored 3" in lines
    assert "gamepulse_matches 1" in lines
    assert 'gamepulse_build_info{version="1.2.3",revision="abc1234"} 1' in lines
    assert "# TYPE gamepulse_http_requests_total counter" in lines
    # Every sample line is NAME{labels} VALUE, as Prometheus parses it.
    sample = re.compile(r'[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? -?[0-9.]+(e[+-]?[0-9]+)?')
    assert all(sample.fullmatch(line) for line in lines if not line.startswith("#"))


def test_unknown_path_is_json_404(app):
    resp = app.get("/nope")
    assert resp.status == 404
    assert resp.json()["error"] == "not_found"
    assert app.get("/v1/matches/m-1").status == 404


def test_wrong_method_is_405_with_allow(app):
    resp = app.request("DELETE", EVENTS)
    assert resp.status == 405
    assert resp.headers["allow"] == "GET, HEAD, POST"
    assert resp.json()["error"] == "method_not_allowed"
    assert app.post("/health", {"a": 1}).status == 405


def test_unsupported_method_is_json(app):
    resp = app.request("BREW", "/health")
    assert resp.status == 501
    assert resp.json()["error"] == "not_implemented"


def test_keep_alive_serves_several_requests_on_one_connection(app):
    conn = app.connect()
    try:
        for _ in range(3):
            assert app.post(EVENTS, event(), conn=conn).status == 201
            assert app.get("/health", conn=conn).status == 200
        # A rejected body that was read keeps the connection usable too.
        assert app.post(EVENTS, {"bad": True}, conn=conn).status == 400
        assert app.get(EVENTS, conn=conn).json()["count"] == 3
    finally:
        conn.close()


def test_request_id_is_echoed_or_generated(app):
    assert app.get("/health", headers={"X-Request-ID": "req-42"}).headers["x-request-id"] == (
        "req-42"
    )
    generated = app.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])


def test_access_logs_are_json_lines(app):
    app.get("/health", headers={"User-Agent": "probe/1", "X-Request-ID": "r1"})
    app.post(EVENTS, event())
    requests = [r for r in app.logs() if r["message"] == "request"]
    assert len(requests) == 2
    first, second = requests
    assert first["level"] == "info"
    assert first["method"] == "GET"
    assert first["path"] == "/health"
    assert first["route"] == "/health"
    assert first["status"] == 200
    assert first["user_agent"] == "probe/1"
    assert first["request_id"] == "r1"
    assert first["remote"] == "127.0.0.1"
    assert first["duration_ms"] >= 0
    assert second["route"] == "/v1/matches/{match_id}/events"
    assert second["status"] == 201


def test_concurrent_posts_are_all_stored(app):
    errors: list[int] = []

    def worker(player: str) -> None:
        conn = app.connect()
        try:
            for _ in range(25):
                status = app.post(EVENTS, event(player, "score", 2), conn=conn).status
                if status != 201:
                    errors.append(status)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(f"p{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    summary = app.get("/v1/matches/m-1/summary").json()
    assert summary["event_count"] == 200
    assert all(p["score"] == 50 for p in summary["players"].values())
