"""GAMEPULSE_DATA_DIR: events survive a restart; damaged files do not stop the server."""

from __future__ import annotations

import errno
import json
import os

import pytest

EVENTS = "/v1/matches/m1/events"


def test_events_survive_restart(start_server, tmp_path):
    first = start_server(data_dir=tmp_path)
    assert first.get("/health").json()["storage"] == "file"
    posted = [
        first.post(EVENTS, {"player_id": "alice", "type": "kill", "value": 2}).json(),
        first.post(EVENTS, {"player_id": "bob", "type": "score", "value": 40}).json(),
        first.post(
            "/v1/matches/m2/events", {"player_id": "carol", "type": "join", "value": 1}
        ).json(),
    ]
    summary = first.get("/v1/matches/m1/summary").json()
    first.stop()

    lines = (tmp_path / "events-test.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == posted

    second = start_server(data_dir=tmp_path, instance_id="second")
    assert second.get(EVENTS).json()["events"] == posted[:2]
    assert second.get("/v1/matches/m1/summary").json() == summary
    assert second.get("/v1/matches/m2/events").json()["count"] == 1
    assert "gamepulse_events_stored 3" in second.get("/metrics").text.splitlines()
    loaded = [r for r in second.logs() if r["message"] == "events loaded"]
    assert loaded[0]["events"] == 3
    # The new process appends to its own file and the next start reads both.
    second.post(EVENTS, {"player_id": "alice", "type": "death", "value": 1})
    second.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "events-second.jsonl",
        "events-test.jsonl",
    ]
    third = start_server(data_dir=tmp_path, instance_id="third")
    assert third.get(EVENTS).json()["count"] == 3
    assert third.get("/v1/matches/m1/summary").json()["players"]["alice"]["death"] == 1


def test_torn_and_foreign_lines_are_skipped(start_server, tmp_path):
    good = {
        "id": "a" * 32,
        "match_id": "m1",
        "player_id": "alice",
        "type": "kill",
        "value": 1,
        "ts": "2024-05-01T12:00:00.000Z",
        "received_at": "2024-05-01T12:00:01.000Z",
    }
    (tmp_path / "events-old.jsonl").write_text(
        json.dumps(good)
        + "\n"
        + json.dumps({**good, "id": "b" * 32, "type": "assist"})
        + "\n\n"
        + json.dumps(good)  # a duplicate id is kept once
        + "\n"
        + '{"id": "c", "match_id": "m1", "pla'  # a crash mid-write
    )
    server = start_server(data_dir=tmp_path)
    assert server.get(EVENTS).json()["events"] == [good]
    skipped = [r for r in server.logs() if r["message"] == "skipped unreadable stored event"]
    assert [r["line"] for r in skipped] == [2, 5]
    assert all(r["level"] == "warning" for r in skipped)


def test_data_dir_is_created(start_server, tmp_path):
    target = tmp_path / "efs" / "gamepulse"
    server = start_server(data_dir=target)
    assert server.post(EVENTS, {"player_id": "a", "type": "join", "value": 1}).status == 201
    assert (target / "events-test.jsonl").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_unwritable_data_dir_fails_at_start(start_server, tmp_path):
    from gamepulse.store import StorageError

    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="GAMEPULSE_DATA_DIR"):
            start_server(data_dir=tmp_path)
    finally:
        tmp_path.chmod(0o700)


def test_data_dir_that_is_a_file_fails_at_start(start_server, tmp_path):
    from gamepulse.store import StorageError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot create GAMEPULSE_DATA_DIR"):
        start_server(data_dir=blocker)


def test_write_failure_is_503_and_event_not_kept(start_server, tmp_path):
    class BrokenMount:
        def write(self, data: str) -> int:
            raise OSError(errno.EIO, "Input/output error")

        flush = close = write

    server = start_server(data_dir=tmp_path)
    store = server.server.store
    real_file, store._file = store._file, BrokenMount()  # the EFS mount goes away
    resp = server.post(EVENTS, {"player_id": "a", "type": "join", "value": 1})
    assert resp.status == 503
    assert resp.json()["error"] == "storage_unavailable"
    assert server.get(EVENTS).json()["count"] == 0
    store._file = real_file
    assert server.post(EVENTS, {"player_id": "a", "type": "join", "value": 1}).status == 201
    assert "storage failure" in [r["message"] for r in server.logs()]
