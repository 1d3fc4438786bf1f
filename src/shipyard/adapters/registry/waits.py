"""Requests that wait: a watcher reports each one silent for longer than a few seconds.

A stalled registry otherwise looks like a frozen push until a limit runs out (a minute or
more). The watcher thread runs while requests are in flight, and emits `RequestWaiting` for
each one that has had no answer (and sent no body bytes) for `notice` seconds, then again
every `every` seconds, so a terminal or a CI log shows what is being waited on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from shipyard.adapters.registry.events import ProgressEvent, RequestWaiting


@dataclass
class Wait:
    """One request in flight: what it is, and when it last made progress."""

    what: str
    since: float = field(default_factory=time.monotonic)
    reported: float = float("-inf")

    def moving(self, body: Iterable[bytes]) -> Iterator[bytes]:
        """The body, each chunk sent counting as progress."""
        for chunk in body:
            self.since = time.monotonic()
            yield chunk
        self.since = time.monotonic()


class WaitWatch:
    """The requests of one client in flight, and the thread that reports long waits."""

    def __init__(self, emit: Callable[[ProgressEvent], None], notice: float,
                 every: float = 10.0) -> None:
        self._emit, self._notice, self._every = emit, notice, every
        self._tick = max(0.05, min(1.0, notice / 4))
        self._lock = threading.Lock()
        self._waits: dict[int, Wait] = {}
        self._watcher: threading.Thread | None = None

    @contextmanager
    def watch(self, what: str) -> Iterator[Wait]:
        wait = Wait(what)
        with self._lock:
            self._waits[id(wait)] = wait
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._run, daemon=True,
                                                 name="shipyard-waits")
                self._watcher.start()
        try:
            yield wait
        finally:
            with self._lock:
                del self._waits[id(wait)]

    def _run(self) -> None:
        while True:
            time.sleep(self._tick)
            now = time.monotonic()
            with self._lock:
                if not self._waits:
                    self._watcher = None  # the next request starts another
                    return
                due = [w for w in self._waits.values()
                       if now - w.since >= self._notice and now - w.reported >= self._every]
                for wait in due:
                    wait.reported = now
            for wait in due:
                self._emit(RequestWaiting(wait.what, now - wait.since))
