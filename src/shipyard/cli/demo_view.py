"""How `shipyard demo` shows its steps while they run.

On a terminal: each step's heading as it starts, under it the lines worth keeping (each
rehearsed job and step as it ends) and a live view (a spinner saying what the step does now
and for how long, with its latest output; the latest blob or tag and a bar per blob being
pushed), then the step's summary and a closing line. In a log (CI, a pipe) the same text as
plain lines, in the order things happen: a heading, the lines of its work (what it does now,
blobs, tags, jobs and steps), its summary, its closing line; passing output is left out.
Under `--json` it shows nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from shipyard.cli.app import Out
from shipyard.cli.progress import PushProgress
from shipyard.usecases.demo import (
    DemoResult,
    StepEvent,
    StepFinished,
    StepNote,
    StepRecord,
    StepStarted,
)


def _summary_lines(event: StepFinished, out: Out) -> None:
    for label, value in event.summary:
        out.line(f"{label}: {value}")


class _LiveOut(Out):
    """Out on a terminal under a live view: every line goes through the live view's console,
    which prints it above the spinner and bars (a write beside it would tear them)."""

    def __init__(self, out: Out, console: Any) -> None:
        super().__init__(out.as_json)
        self.fancy, self._console = True, console

    def console(self, stderr: bool = False) -> Any:
        return self._console


class DemoView:
    """The observer of the demo's steps (`DemoOptions.on_step`), used as a context manager.

    While it runs, print through `view.out` and report pushes to `view.progress`. `console`
    is the rich console of the live view on a terminal (stdout's, which `Out` found to be a
    terminal, unless a test hands in its own).
    """

    def __init__(self, out: Out, console: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        if out.fancy and logging.getLogger("shipyard").isEnabledFor(logging.DEBUG):
            # --verbose prints each call on stderr as it happens, which would tear a live
            # view: show the steps as in a log instead.
            out = Out(out.as_json)
            out.fancy = False
        self._console = console if console is not None or not out.fancy else out.console()
        self.out = _LiveOut(out, self._console) if out.fancy else out
        self.progress = PushProgress(self.out, console=self._console, embedded=True)
        self._live: Any = None
        self._spinner: Any = None  # one spinner for the run: it animates by its start time
        self._status, self._since = "", clock()
        self._open: StepStarted | None = None

    def __enter__(self) -> DemoView:
        if self.out.fancy:
            from rich.live import Live
            from rich.spinner import Spinner

            self._spinner = Spinner("dots", style="cyan")
            self._live = Live(console=self._console, get_renderable=self._render,
                              transient=True, refresh_per_second=8)
            self._live.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is not None and self._open is not None:
                self._mark(f"-- {self._open.number}. {self._open.title}: failed after "
                           f"{self._clock() - self._since:.1f}s", "bold red")
        finally:
            if self._live is not None:
                self._live.stop()

    def working(self, text: str) -> None:
        """Say what happens before the first step (starting the sandbox)."""
        self._status, self._since = text, self._clock()

    def __call__(self, event: StepEvent) -> None:
        if self.out.as_json:
            return
        if isinstance(event, StepStarted):
            self.progress.clear()
            self._open, self._status, self._since = event, event.title, self._clock()
            self._mark(f"== {event.number}. {event.title}", "bold cyan")
        elif isinstance(event, StepNote):
            if event.kind == "line":  # kept: printed above a terminal's live part
                self.out.line(event.text)
                return
            self._status = event.text
            if event.kind == "status" and not self.out.fancy:
                self.out.info(event.text)
        elif isinstance(event, StepFinished):
            self._open, self._status = None, ""
            self.progress.clear()
            _summary_lines(event, self.out)
            verdict = "done" if event.ok else "FAILED"
            self._mark(f"-- {event.number}. {verdict} in {event.seconds:.1f}s",
                       "green" if event.ok else "bold red")

    def _mark(self, text: str, style: str) -> None:
        """A heading or closing line: styled on a terminal, a plain line in a log."""
        if self._live is not None:
            self._console.print(text, style=style, markup=False, highlight=False)
        else:
            self.out.line(text)

    def _render(self) -> Any:
        """The live part: what the current step does now, its latest event, the push bars."""
        from rich.console import Group
        from rich.text import Text

        if not self._status:
            return Text("")
        self._spinner.update(text=Text(f"{self._status} ({self._clock() - self._since:.0f}s)",
                                       style="cyan"))
        parts: list[Any] = [self._spinner]
        if self.progress.last:
            parts.append(Text(f"  {self.progress.last}", style="dim"))
        if self.progress.bars is not None and self.progress.bars.tasks:
            parts.append(self.progress.bars)
        return Group(*parts)


def print_summary(result: DemoResult, out: Out) -> None:
    """Every step's summary, in order: what the run came to, at the end of the output."""
    out.line("== summary")
    records: list[StepRecord] = result.steps
    width = max((len(label) for r in records for label, _ in r.summary), default=0)
    for record in records:
        for label, value in record.summary:
            out.line(f"{label.ljust(width)}  {value}")
