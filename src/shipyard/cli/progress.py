"""Push progress: rich bars on a terminal, one plain line per finished step elsewhere."""

from __future__ import annotations

import threading
from typing import Any

from shipyard.adapters.registry import (
    BlobAdvanced,
    BlobDone,
    BlobSkipped,
    BlobStarted,
    ProgressEvent,
    RequestRetried,
    RequestWaiting,
    TagSet,
)
from shipyard.cli.app import Out


def describe(event: ProgressEvent) -> str | None:
    """The log line for an event that finished something (None for the rest)."""
    if isinstance(event, BlobDone):
        how = "mounted" if event.mounted else "pushed"
        return f"blob {event.digest[7:19]} {how} ({event.size} bytes)"
    if isinstance(event, BlobSkipped):
        return f"blob {event.digest[7:19]} already present"
    if isinstance(event, TagSet):
        return f"tag {event.tag} -> {event.digest[7:19]}"
    if isinstance(event, RequestRetried):
        return (f"retrying {event.what} in {event.delay:.1f}s "
                f"(attempt {event.attempt}: {event.reason})")
    if isinstance(event, RequestWaiting):
        return f"waiting for {event.what}: no answer for {event.seconds:.0f}s"
    return None


class PushProgress:
    """A progress callback for `RegistryClient`, used as a context manager around a push.

    On a terminal it draws a bar per blob. With `embedded=True` it does not show the bars
    itself: another live view shows `bars` (the demo, under its current step heading).
    """

    def __init__(self, out: Out, *, console: Any = None, embedded: bool = False) -> None:
        self.out = out
        self.last: str | None = None  # the latest finished thing, as a log line says it
        self._lock = threading.Lock()
        self._embedded = embedded
        self.bars: Any = None
        self._tasks: dict[str, Any] = {}
        self._waiting: Any = None  # the bar line naming a request that waits, if any
        if out.fancy:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self.bars = Progress(TextColumn("{task.description}"), BarColumn(),
                                 DownloadColumn(), TransferSpeedColumn(),
                                 console=console or out.console(stderr=True), transient=True)

    def __enter__(self) -> PushProgress:
        if self.bars and not self._embedded:
            self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bars and not self._embedded:
            self.bars.stop()

    def clear(self) -> None:
        """Forget the bars and the latest line (the demo does so between steps)."""
        with self._lock:
            self.last = None
            if self.bars is not None:
                for task in [*self._tasks.values(), *filter(None, [self._waiting])]:
                    self.bars.remove_task(task)
            self._tasks.clear()
            self._waiting = None

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            line = describe(event)
            if self.bars is not None:
                self.last = line or self.last
                self._draw(self.bars, event)
            elif line is not None and not self.out.as_json:
                self.out.info(line)

    def _draw(self, bars: Any, event: ProgressEvent) -> None:
        if isinstance(event, RequestWaiting):
            from rich.markup import escape

            # One line under the bars says what is waited on; later progress clears it.
            text = f"[yellow]{escape(describe(event) or '')}"
            if self._waiting is None:
                self._waiting = bars.add_task(text, total=None)
            else:
                bars.update(self._waiting, description=text)
            return
        if self._waiting is not None and not isinstance(event, BlobAdvanced):
            bars.remove_task(self._waiting)
            self._waiting = None
        if isinstance(event, BlobStarted):
            if event.digest in self._tasks:
                bars.reset(self._tasks[event.digest])
            else:
                self._tasks[event.digest] = bars.add_task(event.digest[7:19], total=event.size)
        elif isinstance(event, BlobAdvanced) and event.digest in self._tasks:
            bars.advance(self._tasks[event.digest], event.nbytes)
        elif isinstance(event, BlobDone) and event.digest in self._tasks:
            bars.update(self._tasks[event.digest], completed=event.size)
