"""How `shipyard deploy` and `rollback` show a deploy while it runs.

Three things are shown: the phase (`step`: rendering, verifying, registering, deploying...),
each event as it arrives (`news`: a service event, a lifecycle event's status, a change of
the traffic weights), and the board (`board`: the deployments or task sets with their
desired/running/pending counts and rollout state, and the traffic weights).

- In a log (CI, a pipe, `--verbose`, `--json`): plain lines on stderr, each stamped with the
  UTC time, `HH:MM:SS line`, no colour: a phase as `HH:MM:SS == phase`, an event as is, the
  board as one line per deployment (only when it changed). Under `--json` stdout keeps
  nothing but the command's JSON.
- On a terminal (`live=True`, stderr a terminal, not CI): a rich live panel on stderr with the
  phase and its time, the deployments table, the weights and the last events; when the view
  closes the panel goes, and every line it showed is printed for good, then the last board.

Everything goes through the redacting stream of `Out`: what a service event or a hook's
message holds is the world's text, and a secret in it must not reach the screen or a log.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from shipyard.cli.app import Out
from shipyard.domain.board import Board, board_lines
from shipyard.redaction import redact_output

LAST_EVENTS = 8  # events the live panel keeps in view


class DeployView:
    """The deploy's progress, used as a context manager around the deploy.

    `console` is a rich console to draw the live panel on (a test's; by default stderr's,
    redacted); `clock` gives the time stamped on each line (seconds since the epoch).
    """

    def __init__(self, as_json: bool, live: bool, *, console: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._live_wanted = live and not as_json and (console is not None or _terminal()) \
            and not logging.getLogger("shipyard").isEnabledFor(logging.DEBUG)
        # --verbose prints each call on stderr as it happens, which would tear a live panel
        self._console = console
        self._lock = threading.Lock()
        self._lines: list[str] = []  # every stamped line, for the end of a live view
        self._printed = 0  # of those, how many were printed already (before a question)
        self._board: Board | None = None
        self._step, self._since = "", clock()
        self._live: Any = None

    @property
    def live(self) -> bool:
        """Whether a live panel is drawn (False: plain lines)."""
        return self._live_wanted

    def __enter__(self) -> DeployView:
        if self._live_wanted:
            from rich.live import Live

            if self._console is None:
                self._console = Out().console(stderr=True)
            self._live = Live(console=self._console, get_renderable=self._render,
                              transient=True, refresh_per_second=4)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is None:
            return
        self._live.stop()
        self._live = None
        from rich.text import Text

        self._print_lines()
        with self._lock:
            board = self._board
        if board is not None and board.rows:
            self._console.print(_table(board))
            if board.weights:
                self._console.print(Text(board_lines(board)[-1]))

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The live panel stopped while a question is asked on the terminal (the approval
        prompt), and started again after it. The lines so far are printed first, so the
        question comes after what it asks about (the diff)."""
        live = self._live
        if live is not None:
            live.stop()
            self._print_lines()
        try:
            yield
        finally:
            if live is not None:
                live.start()

    def _print_lines(self) -> None:
        """Print, above the live panel, the stamped lines not printed yet."""
        from rich.text import Text

        with self._lock:
            lines, self._printed = self._lines[self._printed:], len(self._lines)
        for line in lines:
            self._console.print(Text(line), soft_wrap=True)

    def step(self, text: str) -> None:
        """A new phase of the deploy."""
        with self._lock:
            self._step, self._since = text, self._clock()
        self._emit(f"== {text}")

    def news(self, line: str) -> None:
        """An event, as it arrives."""
        self._emit(line)

    def board(self, snapshot: Board) -> None:
        """The deployments as they stand now; a log gets them only when they changed."""
        with self._lock:
            if snapshot == self._board:
                return
            self._board = snapshot
        if not self._live_wanted:
            for line in board_lines(snapshot):
                self._plain(f"{self._stamp()} {line}")

    def _emit(self, text: str) -> None:
        line = f"{self._stamp()} {text}"
        if self._live_wanted:
            with self._lock:
                self._lines.append(line)
        else:
            self._plain(line)

    def _stamp(self) -> str:
        return time.strftime("%H:%M:%S", time.gmtime(self._clock()))

    @staticmethod
    def _plain(line: str) -> None:
        sys.stderr.write(redact_output(line) + "\n")
        sys.stderr.flush()

    def _render(self) -> Any:
        """The live panel: the phase and its time, the deployments, the last events."""
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        with self._lock:
            step, since, board = self._step, self._since, self._board
            events = self._lines[-LAST_EVENTS:]
        parts: list[Any] = []
        if board is not None and board.rows:
            parts.append(_table(board))
            if board.weights:
                parts.append(Text(board_lines(board)[-1], style="bold"))
        parts.extend(Text(line, style="dim") for line in events)
        title = f"{step} ({self._clock() - since:.0f}s)" if step else "deploy"
        return Panel(Group(*parts) if parts else Text("waiting for the first look..."),
                     title=Text(title, style="bold cyan"), title_align="left")


def _table(board: Board) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("deployment", "status", "task definition"):
        table.add_column(name)
    for name in ("desired", "running", "pending"):
        table.add_column(name, justify="right")
    table.add_column("rollout")
    for row in board.rows:  # Text cells: what AWS answered is never read as markup
        table.add_row(*(Text(cell) for cell in (
            row.id, row.status, row.task_definition or "-", str(row.desired), str(row.running),
            str(row.pending), row.rollout_state or "-")))
    return table


def _terminal() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")
