"""Push progress shows a request that waits: a line in a log, a line under the bars."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from shipyard.adapters.registry import BlobDone, BlobStarted, RequestWaiting
from shipyard.cli.app import Out
from shipyard.cli.progress import PushProgress

DIGEST = "sha256:" + "cd" * 32
WAIT = RequestWaiting("PUT /v2/gamepulse/blobs/uploads/abc", 12.4)


def test_a_log_gets_one_line_per_waiting_notice(capsys: pytest.CaptureFixture[str]) -> None:
    with PushProgress(Out()) as progress:
        progress(WAIT)
    assert capsys.readouterr().err == ("waiting for PUT /v2/gamepulse/blobs/uploads/abc: "
                                       "no answer for 12s\n")


def test_a_terminal_shows_the_wait_under_the_bars_until_progress_resumes() -> None:
    out = Out()
    out.fancy = True
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with PushProgress(out, console=console) as progress:
        progress(BlobStarted(DIGEST, 100))
        progress(WAIT)
        descriptions = [task.description for task in progress.bars.tasks]
        assert any("waiting for PUT /v2/gamepulse/blobs/uploads/abc" in d
                   for d in descriptions)
        progress(RequestWaiting(WAIT.what, 22.0))  # the same line, updated
        assert len(progress.bars.tasks) == 2
        assert "no answer for 22s" in progress.bars.tasks[-1].description
        progress(BlobDone(DIGEST, 100))
        assert len(progress.bars.tasks) == 1  # the wait is over once something moved
