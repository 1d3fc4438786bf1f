"""Structured logs: one JSON object per line on stdout (CloudWatch Logs / awslogs friendly)."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from gamepulse.store import isoformat, utc_now


class JsonLogger:
    def __init__(self, stream: TextIO | None = None, service: str = "gamepulse") -> None:
        self._stream = stream
        self._lock = threading.RLock()
        self.service = service

    @property
    def stream(self) -> TextIO:
        # Resolved per call so a replaced sys.stdout (tests, capture) is honoured.
        return self._stream if self._stream is not None else sys.stdout

    def log(self, level: str, message: str, **fields: Any) -> None:
        record = {
            "time": isoformat(utc_now()),
            "level": level,
            "service": self.service,
            "message": message,
            **fields,
        }
        line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken stdout must never take a request down

    def info(self, message: str, **fields: Any) -> None:
        self.log("info", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("warning", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("error", message, **fields)
