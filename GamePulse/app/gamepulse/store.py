"""Match events: validation, an in-memory store, and optional JSON-lines persistence.

Persistence layout (``GAMEPULSE_DATA_DIR``, the EFS mount in production): each process
appends to its own file, ``events-<instance>.jsonl``, one stored event per line. Several
tasks can share the directory without interleaving writes (NFS gives no atomic O_APPEND
across clients). On start every ``*.jsonl`` file is read back; a torn last line (a crash
mid-write) is skipped and reported, never fatal. A running process does not see events
that other processes write after it started.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENT_TYPES = ("kill", "death", "score", "join", "leave")
FIELDS = ("player_id", "type", "value", "ts")
MAX_VALUE = 2**63 - 1
MAX_PLAYER_ID = 128
MATCH_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class ValidationError(ValueError):
    """The request body is not a valid event; ``details`` holds one entry per bad field."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        self.details = details
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details))


class StorageError(RuntimeError):
    """The persistence directory cannot be written."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)  # noqa: UP017 - same code on every 3.x we support


def isoformat(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. 2024-05-01T12:00:00.000Z."""
    moment = moment.astimezone(dt.timezone.utc)  # noqa: UP017
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def valid_match_id(match_id: str) -> bool:
    return MATCH_ID_RE.fullmatch(match_id) is not None


def _parse_ts(raw: Any) -> str:
    """Accept Unix seconds (int or float) or an ISO 8601 string with a time zone."""
    if isinstance(raw, bool):
        raise ValueError("must be Unix seconds or an ISO 8601 date-time, not a boolean")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or raw < 0:
            raise ValueError("must be a non-negative number of Unix seconds")
        try:
            moment = dt.datetime.fromtimestamp(raw, dt.timezone.utc)  # noqa: UP017
        except (OverflowError, OSError, ValueError):
            raise ValueError("is out of range") from None
        return isoformat(moment)
    if isinstance(raw, str):
        text = raw.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("must be an ISO 8601 date-time such as 2024-05-01T12:00:00Z") from None
        if moment.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2024-05-01T12:00:00Z")
        return isoformat(moment)
    raise ValueError("must be Unix seconds or an ISO 8601 date-time string")


def validate_event(payload: Any) -> dict[str, Any]:
    """Check a decoded request body; return the clean fields or raise ValidationError."""
    if not isinstance(payload, dict):
        raise ValidationError(
            [{"field": "body", "message": "must be a JSON object with player_id, type, value"}]
        )
    errors: list[dict[str, str]] = []
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        errors.append(
            {
                "field": ", ".join(unknown),
                "message": f"unknown field; allowed fields are {', '.join(FIELDS)}",
            }
        )
    player = payload.get("player_id")
    if "player_id" not in payload:
        errors.append({"field": "player_id", "message": "is required"})
    elif not isinstance(player, str) or not player.strip():
        errors.append({"field": "player_id", "message": "must be a non-empty string"})
    elif len(player) > MAX_PLAYER_ID:
        errors.append(
            {"field": "player_id", "message": f"must be at most {MAX_PLAYER_ID} characters"}
        )
    kind = payload.get("type")
    if "type" not in payload:
        errors.append({"field": "type", "message": "is required"})
    elif kind not in EVENT_TYPES:
        errors.append(
            {"field": "type", "message": f"must be one of {', '.join(EVENT_TYPES)}; got {kind!r}"}
        )
    value = payload.get("value")
    if "value" not in payload:
        errors.append({"field": "value", "message": "is required"})
    elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
        errors.append({"field": "value", "message": "must be an integer >= 0 (at most 2**63-1)"})
    ts = None
    if payload.get("ts") is not None:
        try:
            ts = _parse_ts(payload["ts"])
        except ValueError as exc:
            errors.append({"field": "ts", "message": str(exc)})
    if errors:
        raise ValidationError(errors)
    return {"player_id": player, "type": kind, "value": value, "ts": ts}


@dataclass
class LoadReport:
    files: int = 0
    events: int = 0
    skipped: int = 0


class EventStore:
    """Events per match, in arrival order. Thread-safe; one lock guards memory and file."""

    def __init__(
        self,
        data_dir: Path | None = None,
        instance_id: str = "local",
        fsync: bool = False,
        on_skip: Callable[[Path, int, str], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._matches: dict[str, list[dict[str, Any]]] = {}
        self._ids: set[str] = set()
        self._fsync = fsync
        self._file = None
        self.data_dir = data_dir
        self.path: Path | None = None
        self.load_report = LoadReport()
        if data_dir is not None:
            self._open(data_dir, instance_id, on_skip)

    # -- persistence -----------------------------------------------------------------------
    def _open(
        self, data_dir: Path, instance_id: str, on_skip: Callable[[Path, int, str], None] | None
    ) -> None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create GAMEPULSE_DATA_DIR {data_dir}: {exc}") from exc
        loaded = self._load(sorted(data_dir.glob("*.jsonl")), on_skip)
        # Stable sort: events of one file keep their written order even within one millisecond;
        # files (one per process) are merged by receive time.
        for event in sorted(loaded, key=lambda e: e["received_at"]):
            self._matches.setdefault(event["match_id"], []).append(event)
        self.path = data_dir / f"events-{_SAFE_NAME.sub('-', instance_id)}.jsonl"
        try:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        except OSError as exc:
            raise StorageError(f"cannot write to GAMEPULSE_DATA_DIR {data_dir}: {exc}") from exc

    def _load(
        self, paths: Iterable[Path], on_skip: Callable[[Path, int, str], None] | None
    ) -> list[dict[str, Any]]:
        events = []
        for path in paths:
            self.load_report.files += 1
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError as exc:
                raise StorageError(f"cannot read {path}: {exc}") from exc
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                    if not valid_match_id(event["match_id"]) or not isinstance(event["id"], str):
                        raise ValueError("bad match_id or id")
                    clean = validate_event(
                        {k: event[k] for k in ("player_id", "type", "value") if k in event}
                    )
                    event = {
                        "id": event["id"],
                        "match_id": event["match_id"],
                        **clean,
                        "ts": event.get("ts") or event["received_at"],
                        "received_at": str(event["received_at"]),
                    }
                except (ValueError, KeyError, TypeError) as exc:
                    self.load_report.skipped += 1
                    if on_skip is not None:
                        on_skip(path, number, str(exc))
                    continue
                if event["id"] in self._ids:
                    continue
                self._ids.add(event["id"])
                events.append(event)
                self.load_report.events += 1
        return events

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()
                if self._fsync:
                    os.fsync(self._file.fileno())
                self._file.close()
                self._file = None

    # -- operations ------------------------------------------------------------------------
    def add(self, match_id: str, clean: dict[str, Any]) -> dict[str, Any]:
        now = isoformat(utc_now())
        event = {
            "id": uuid.uuid4().hex,
            "match_id": match_id,
            "player_id": clean["player_id"],
            "type": clean["type"],
            "value": clean["value"],
            "ts": clean.get("ts") or now,
            "received_at": now,
        }
        with self._lock:
            if self._file is not None:
                try:
                    self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
                    self._file.flush()
                    if self._fsync:
                        os.fsync(self._file.fileno())
                except OSError as exc:
                    raise StorageError(f"cannot persist event to {self.path}: {exc}") from exc
            self._matches.setdefault(match_id, []).append(event)
            self._ids.add(event["id"])
        return event

    def events(
        self, match_id: str, player_id: str | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            events = list(self._matches.get(match_id, ()))
        return [
            e
            for e in events
            if (player_id is None or e["player_id"] == player_id)
            and (kind is None or e["type"] == kind)
        ]

    def summary(self, match_id: str) -> dict[str, Any]:
        players: dict[str, dict[str, int]] = {}
        events = self.events(match_id)
        for event in events:
            totals = players.setdefault(
                event["player_id"], {**dict.fromkeys(EVENT_TYPES, 0), "events": 0}
            )
            totals[event["type"]] += event["value"]
            totals["events"] += 1
        return {
            "match_id": match_id,
            "event_count": len(events),
            "player_count": len(players),
            "players": dict(sorted(players.items())),
        }

    def stats(self) -> tuple[int, int]:
        """(number of matches, number of stored events)."""
        with self._lock:
            return len(self._matches), sum(len(v) for v in self._matches.values())
