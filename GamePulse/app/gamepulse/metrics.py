"""Counters rendered in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from gamepulse.store import EVENT_TYPES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.requests: Counter[tuple[tuple[str, str], ...]] = Counter()
        self.request_seconds: Counter[tuple[tuple[str, str], ...]] = Counter()
        self.events: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (("method", method), ("route", route), ("status", str(status)))
        with self._lock:
            self.requests[key] += 1
            self.request_seconds[(("method", method), ("route", route))] += seconds

    def observe_event(self, kind: str) -> None:
        with self._lock:
            self.events[kind] += 1

    def observe_rejected(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1

    def render(self, *, matches: int, stored: int, version: str, revision: str) -> str:
        with self._lock:
            requests = sorted(self.requests.items())
            seconds = sorted(self.request_seconds.items())
            events = dict(self.events)
            rejected = sorted(self.rejected.items())
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, samples) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                text = repr(float(value)) if isinstance(value, float) else str(value)
                lines.append(f"{name}{_labels(labels)} {text}")

        family(
            "gamepulse_build_info",
            "gauge",
            "Version and git revision of the running build.",
            [((("version", version), ("revision", revision)), 1)],
        )
        family(
            "gamepulse_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            [((), round(self.uptime(), 3))],
        )
        family(
            "gamepulse_http_requests_total",
            "counter",
            "HTTP requests handled, by method, route template and status code.",
            requests,
        )
        family(
            "gamepulse_http_request_duration_seconds_sum",
            "counter",
            "Total time spent handling requests, by method and route template.",
            [(k, round(v, 6)) for k, v in seconds],
        )
        family(
            "gamepulse_events_received_total",
            "counter",
            "Events accepted since the server started, by event type.",
            [((("type", kind),), events.get(kind, 0)) for kind in EVENT_TYPES],
        )
        family(
            "gamepulse_events_rejected_total",
            "counter",
            "Event submissions rejected, by reason.",
            [((("reason", reason),), count) for reason, count in rejected],
        )
        family("gamepulse_events_stored", "gauge", "Events held in the store.", [((), stored)])
        family("gamepulse_matches", "gauge", "Matches with at least one event.", [((), matches)])
        return "\n".join(lines) + "\n"
