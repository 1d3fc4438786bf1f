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
    """Lines of one invocation, collected as they come, written to CloudWatch at the end."""

    def __init__(self, request_id: str, version: str) -> None:
        self.request_id = request_id
        self.version = version
        self.stream = stream_name(version)
        self.events: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self.add(f"START RequestId: {request_id} Version: {version}", platform=True)

    def add(self, message: str, at: int | None = None, *, platform: bool = False) -> None:
        with self._lock:
            if platform or len(self.events) < MAX_LINES:
                # CloudWatch wants events in time order; a line never goes back in time.
                last = self.events[-1][0] if self.events else 0
                self.events.append((max(last, at or now_ms()), message))

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
        text = "".join(f"{message}\n" for _, message in self.events).encode()
        return text[-TAIL_BYTES:]

    def write(self, account_id: str, region: str, group: str) -> None:
        backend = logs_backends[account_id][region]
        with _lock:
            backend.ensure_log_group(group)
            backend.create_log_stream(group, self.stream)
            events = [{"timestamp": at, "message": message} for at, message in self.events]
            # PutLogEvents takes at most 10,000 events per call.
            for start in range(0, len(events), 10_000):
                backend.put_log_events(group, self.stream, events[start:start + 10_000])
