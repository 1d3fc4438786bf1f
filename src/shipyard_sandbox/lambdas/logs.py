"""An invocation's log as Lambda writes it to CloudWatch Logs (moto's logs backend).

Group `/aws/lambda/NAME`, stream `YYYY/MM/DD/[VERSION]<32 hex>` (one per execution
environment; every invocation here starts a fresh one), and the platform lines around what the
handler printed: `START RequestId: ID Version: V`, `END RequestId: ID`, `REPORT RequestId: ID
Duration ... Billed Duration ... Memory Size ... Max Memory Used ... Init Duration ...`.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime

from moto.logs.models import logs_backends

TAIL_BYTES = 4096  # LogType=Tail returns the last 4 KB
MAX_LINES = 10_000  # per invocation; what a handler prints beyond this is dropped
_lock = threading.Lock()


def stream_name(version: str) -> str:
    return f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


def now_ms() -> int:
    return int(time.time() * 1000)


def timestamp(ms: int) -> str:
    """ISO time as Lambda prints it in its own lines (`2026-11-30T01:02:03.456Z`)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class InvocationLog:
    """One invocation's stream: each line goes to CloudWatch as it comes (so a long hook can
    be followed), and its last 4 KB are kept for `LogType=Tail`."""

    def __init__(self, request_id: str, version: str, *, account_id: str, region: str,
                 group: str) -> None:
        self.request_id = request_id
        self.stream = stream_name(version)
        self.group = group
        self._backend = logs_backends[account_id][region]
        self._lock = threading.Lock()
        self._count = 0
        self._last = 0
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        with _lock:
            self._backend.ensure_log_group(group)
            self._backend.create_log_stream(group, self.stream)
        self.add(f"START RequestId: {request_id} Version: {version}", platform=True)

    def add(self, message: str, at: int | None = None, *, platform: bool = False) -> None:
        """Log `message`; past MAX_LINES only the platform's own lines still are."""
        with self._lock:
            if not platform and self._count >= MAX_LINES:
                return
            self._count += 1
            # CloudWatch wants events in time order; a line never goes back in time.
            self._last = max(self._last, at or now_ms())
            line = f"{message}\n".encode()
            self._tail.append(line)
            self._tail_size += len(line)
            while self._tail_size - len(self._tail[0]) >= TAIL_BYTES:
                self._tail_size -= len(self._tail.popleft())
            with _lock:
                self._backend.put_log_events(self.group, self.stream,
                                             [{"timestamp": self._last, "message": message}])

    def finish(self, *, duration_ms: float, memory_mb: int, max_used_mb: int | None,
               init_ms: float | None, timed_out: bool) -> None:
        self.add(f"END RequestId: {self.request_id}", platform=True)
        fields = [f"REPORT RequestId: {self.request_id}", f"Duration: {duration_ms:.2f} ms",
                  f"Billed Duration: {math.ceil(duration_ms)} ms",
                  f"Memory Size: {memory_mb} MB"]
        if max_used_mb is not None:
            fields.append(f"Max Memory Used: {max_used_mb} MB")
        if init_ms is not None:
            fields.append(f"Init Duration: {init_ms:.2f} ms")
        if timed_out:
            fields.append("Status: timeout")
        self.add("\t".join(fields), platform=True)

    def tail(self) -> bytes:
        with self._lock:
            return b"".join(self._tail)[-TAIL_BYTES:]
