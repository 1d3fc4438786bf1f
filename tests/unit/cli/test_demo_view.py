"""The demo's step view: ordered lines in a log, a live view on a terminal."""

from __future__ import annotations

import io
import logging
import re
import time

import pytest
from rich.console import Console

from shipyard.adapters.registry import BlobAdvanced, BlobDone, BlobStarted, TagSet
from shipyard.cli.app import Out
from shipyard.cli.demo_view import DemoView, print_summary
from shipyard.usecases.demo import DemoResult, StepFinished, StepNote, StepRecord, StepStarted

DIGEST = "sha256:" + "ab" * 32


def _base_image_step(view: DemoView, result: DemoResult) -> None:
    """Drive the view through one step that pushes: as `run_demo` and the registry would."""
    view(StepStarted(3, "base_image", "base image gamepulse-base:bookworm"))
    view(StepNote(3, "pushing to 127.0.0.1:5000/gamepulse-base"))
    view.progress(BlobStarted(DIGEST, 2048))
    view.progress(BlobAdvanced(DIGEST, 1024))
    summary = (("base image", "127.0.0.1:5000/gamepulse-base:bookworm"),)
    result.steps.append(StepRecord(3, "base image gamepulse-base:bookworm", True, summary))
    view.progress(BlobDone(DIGEST, 2048, mounted=False))
    view.progress(TagSet("bookworm", DIGEST))
    view(StepFinished(3, "base_image", "base image", True, 1.25, summary, result))


def test_a_log_shows_each_heading_before_its_work_and_the_summary_last(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = Out()
    assert not out.fancy  # pytest's capture is not a terminal
    result = DemoResult()
    with DemoView(out) as view:
        view(StepStarted(1, "version", "version and tag plan"))
        summary = (("version", "1.1.0 (branch: minor bump)"), ("tag plan", "1.1.0, latest"))
        result.steps.append(StepRecord(1, "version and tag plan", True, summary))
        view(StepFinished(1, "version", "version and tag plan", True, 0.04, summary, result))
        _base_image_step(view, result)
    print_summary(result, out)
    captured = capsys.readouterr()
    # stdout and stderr are one stream in a log; each line here says which it went to
    assert captured.out.splitlines() == [
        "== 1. version and tag plan",
        "version: 1.1.0 (branch: minor bump)",
        "tag plan: 1.1.0, latest",
        "-- 1. done in 0.0s",
        "== 3. base image gamepulse-base:bookworm",
        "base image: 127.0.0.1:5000/gamepulse-base:bookworm",
        "-- 3. done in 1.2s",
        "== summary",
        "version     1.1.0 (branch: minor bump)",
        "tag plan    1.1.0, latest",
        "base image  127.0.0.1:5000/gamepulse-base:bookworm",
    ]
    assert captured.err.splitlines() == [
        "pushing to 127.0.0.1:5000/gamepulse-base",
        "blob abababababab pushed (2048 bytes)",
        "tag bookworm -> abababababab",
    ]


def test_a_log_interleaves_stdout_and_stderr_in_the_order_things_happen(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI log merges the two streams: a step's blob and tag lines (stderr) come after its
    heading and before its closing line (stdout)."""
    log = io.StringIO()
    monkeypatch.setattr("sys.stdout", log)
    monkeypatch.setattr("sys.stderr", log)
    with DemoView(Out()) as view:
        _base_image_step(view, DemoResult())
    assert log.getvalue().splitlines() == [
        "== 3. base image gamepulse-base:bookworm",
        "pushing to 127.0.0.1:5000/gamepulse-base",
        "blob abababababab pushed (2048 bytes)",
        "tag bookworm -> abababababab",
        "base image: 127.0.0.1:5000/gamepulse-base:bookworm",
        "-- 3. done in 1.2s",
    ]


def _terminal() -> tuple[Out, Console, io.StringIO]:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None,
                      legacy_windows=False)
    out = Out()
    out.fancy = True  # what Out decides when stdout is a terminal outside CI
    return out, console, screen


def _wait_for(screen: io.StringIO, pattern: str) -> str:
    """The live view redraws on its own thread; wait (a little) for a frame showing this."""
    deadline = time.monotonic() + 5
    while not re.search(pattern, screen.getvalue()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return screen.getvalue()


def test_a_terminal_shows_a_live_view_under_the_step_heading() -> None:
    out, console, screen = _terminal()
    with DemoView(out, console=console) as view:
        view.working("starting the sandbox")
        assert "starting the sandbox (0s)" in _wait_for(screen, r"starting the sandbox")
        view(StepStarted(3, "base_image", "base image gamepulse-base:bookworm"))
        view(StepNote(3, "pushing to 127.0.0.1:5000/gamepulse-base"))
        view.progress(BlobStarted(DIGEST, 2048))
        view.progress(BlobAdvanced(DIGEST, 1024))
        frame = _wait_for(screen, r"abababababab .*1\.0/2\.0 kB")
        # the heading stays above; the spinner says what the step does, a bar per blob
        assert frame.index("== 3. base image") < frame.rindex("pushing to 127.0.0.1:5000")
        assert re.search(r"abababababab .*1\.0/2\.0 kB", frame)
        view.progress(BlobDone(DIGEST, 2048, mounted=False))
        frame = _wait_for(screen, r"blob abababababab pushed")
        assert "  blob abababababab pushed (2048 bytes)" in frame  # the latest event
        summary = (("base image", "127.0.0.1:5000/gamepulse-base:bookworm"),)
        view(StepFinished(3, "base_image", "base image", True, 1.25, summary, DemoResult()))
        view.out.info("a note printed while the view runs")
    text = screen.getvalue()
    # printed through the live view's console, in order, above the live part
    printed = ["== 3. base image gamepulse-base:bookworm",
               "base image: 127.0.0.1:5000/gamepulse-base:bookworm",
               "-- 3. done in 1.2s", "a note printed while the view runs"]
    positions = [text.index(line) for line in printed]
    assert positions == sorted(positions)
    assert not view.progress.bars.tasks  # the step's bars went with it


def test_a_failing_step_says_so_before_the_error() -> None:
    out, console, screen = _terminal()
    with pytest.raises(RuntimeError), DemoView(out, console=console) as view:
        view(StepStarted(4, "push", "build, push and scan"))
        raise RuntimeError("the build failed")
    assert re.search(r"-- 4\. build, push and scan: failed after \d+\.\ds", screen.getvalue())


def test_json_shows_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with DemoView(Out(as_json=True)) as view:
        _base_image_step(view, DemoResult())
    assert capsys.readouterr() == ("", "")


def test_verbose_on_a_terminal_shows_lines_as_in_a_log(
        capsys: pytest.CaptureFixture[str]) -> None:
    """--verbose prints each call as it happens; a live view beside those lines would tear."""
    log = logging.getLogger("shipyard")
    level = log.level
    log.setLevel(logging.DEBUG)  # what --verbose does (setLevel also drops cached answers)
    try:
        out, console, screen = _terminal()
        with DemoView(out, console=console) as view:
            _base_image_step(view, DemoResult())
    finally:
        log.setLevel(level)
    assert screen.getvalue() == ""
    assert capsys.readouterr().err.splitlines()[1] == "blob abababababab pushed (2048 bytes)"


def test_a_rehearsal_s_kept_lines_print_and_its_passing_output_does_not(
        capsys: pytest.CaptureFixture[str]) -> None:
    with DemoView(Out()) as view:
        view(StepStarted(4, "push_develop", "push to develop"))
        view(StepNote(4, "job build"))  # what it does now: a log prints it (stderr)
        view(StepNote(4, "build: Step 3/9 : COPY app /app", "live"))  # passing: not in a log
        view(StepNote(4, "  ok   Version and tags [0.4s]", "line"))  # kept: stdout
        view(StepFinished(4, "push_develop", "push to develop", True, 2.0, (), DemoResult()))
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["== 4. push to develop",
                                         "  ok   Version and tags [0.4s]", "-- 4. done in 2.0s"]
    assert captured.err.splitlines() == ["job build"]


def test_a_terminal_keeps_a_rehearsal_s_lines_and_shows_its_output_live() -> None:
    out, console, screen = _terminal()
    with DemoView(out, console=console) as view:
        view(StepStarted(4, "push_develop", "push to develop"))
        view(StepNote(4, "build: pushing the index", "live"))
        assert "build: pushing the index" in _wait_for(screen, r"pushing the index")
        view(StepNote(4, "  ok   Version and tags [0.4s]", "line"))
        view(StepFinished(4, "push_develop", "push to develop", True, 2.0, (), DemoResult()))
    text = screen.getvalue()
    assert text.index("== 4. push to develop") < text.index("  ok   Version and tags [0.4s]") \
        < text.index("-- 4. done in 2.0s")
