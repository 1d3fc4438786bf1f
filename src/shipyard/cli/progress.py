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
    TagSet,
)
from shipyard.cli.app import Out


class PushProgress:
    """A progress callback for `RegistryClient`, used as a context manager around a push."""

    def __init__(self, out: Out) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._bars: Any = None
        self._tasks: dict[str, Any] = {}
        if out.fancy:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self._bars = Progress(TextColumn("{task.description}"), BarColumn(),
                                  DownloadColumn(), TransferSpeedColumn(),
                                  console=out.console(stderr=True), transient=True)

    def __enter__(self) -> PushProgress:
        if self._bars:
            self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars:
            self._bars.stop()

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            if self._bars is not None:
                self._draw(self._bars, event)
            else:
                self._log(event)

    def _draw(self, bars: Any, event: ProgressEvent) -> None:
        if isinstance(event, BlobStarted):
            if event.digest in self._tasks:
                bars.reset(self._tasks[event.digest])
            else:
                self._tasks[event.digest] = bars.add_task(event.digest[7:19], total=event.size)
        elif isinstance(event, BlobAdvanced) and event.digest in self._tasks:
            bars.advance(self._tasks[event.digest], event.nbytes)
        elif isinstance(event, BlobDone) and event.digest in self._tasks:
            bars.update(self._tasks[event.digest], completed=event.size)

    def _log(self, event: ProgressEvent) -> None:
        if self.out.as_json:
            return
        if isinstance(event, BlobDone):
            how = "mounted" if event.mounted else "pushed"
            self.out.info(f"blob {event.digest[7:19]} {how} ({event.size} bytes)")
        elif isinstance(event, BlobSkipped):
            self.out.info(f"blob {event.digest[7:19]} already present")
        elif isinstance(event, TagSet):
            self.out.info(f"tag {event.tag} -> {event.digest[7:19]}")
        elif isinstance(event, RequestRetried):
            self.out.info(f"retrying {event.what} in {event.delay:.1f}s "
                          f"(attempt {event.attempt}: {event.reason})")
