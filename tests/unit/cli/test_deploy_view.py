"""The deploy's progress view: exact stamped lines in a log, a live panel on a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from shipyard.cli.deploy_view import DeployView
from shipyard.domain.board import Board, BoardRow
from shipyard.redaction import SECRETS

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
ROLLING = Board((BoardRow("ecs-svc/2", "PRIMARY", "api:7", 2, 1, 1, "IN_PROGRESS"),
                 BoardRow("ecs-svc/1", "ACTIVE", "api:6", 2, 2, 0, "COMPLETED")))
CANARY = Board((BoardRow("ecs-svc/a", "PRIMARY", "", 2, 2, 0, "Blue"),
                BoardRow("ecs-svc/b", "ACTIVE", "", 2, 2, 0, "Green")),
               (("Blue", 90.0), ("Green", 10.0)))


class Clock:
    """01:02:03 UTC until `tick` moves it."""

    def __init__(self) -> None:
        self.now = 3723.0

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += 1


def _drive(view: DeployView, clock: Clock) -> None:
    clock.tick()
    view.step("registering api:7")
    clock.tick()
    view.board(ROLLING)
    clock.tick()
    view.news("(service api) has started 1 tasks: (task 1234).")
    view.board(ROLLING)  # the same board again: nothing new to log
    clock.tick()
    view.board(CANARY)


def test_a_log_gets_stamped_plain_lines_on_stderr_and_nothing_on_stdout(
        capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    with DeployView(as_json=False, live=True, clock=clock) as view:
        assert not view.live  # pytest's capture is not a terminal
        _drive(view, clock)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "01:02:04 == registering api:7",
        "01:02:05 ecs-svc/2  PRIMARY  api:7  1/2 running  1 pending  IN_PROGRESS",
        "01:02:05 ecs-svc/1  ACTIVE  api:6  2/2 running  0 pending  COMPLETED",
        "01:02:06 (service api) has started 1 tasks: (task 1234).",
        "01:02:07 ecs-svc/a  PRIMARY  2/2 running  0 pending  Blue",
        "01:02:07 ecs-svc/b  ACTIVE  2/2 running  0 pending  Green",
        "01:02:07 traffic: Blue 90%, Green 10%",
    ]
    assert "\x1b" not in captured.err


def test_json_keeps_stdout_for_the_result_and_draws_no_panel(
        capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(file=io.StringIO(), record=True, force_terminal=True)
    with DeployView(as_json=True, live=True, console=console, clock=Clock()) as view:
        assert not view.live
        view.step("deploying")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "01:02:03 == deploying\n"
    assert console.export_text() == ""


def test_a_secret_in_an_event_is_masked_in_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    SECRETS.register(SECRET)
    with DeployView(as_json=False, live=False, clock=Clock()) as view:
        view.news(f"hook said token={SECRET}")
    err = capsys.readouterr().err
    assert "hook said token=" in err and SECRET not in err


def test_a_terminal_gets_a_live_panel_then_every_line_and_the_last_board_for_good(
        capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(file=io.StringIO(), record=True, force_terminal=True, width=100)
    clock = Clock()
    with DeployView(as_json=False, live=True, console=console, clock=clock) as view:
        assert view.live
        _drive(view, clock)
        clock.tick()
        view.news("[bold]not markup[/bold]")
        console.print(view._render())  # a frame of the panel, as Live draws it
    text = console.export_text()
    frame, after = text.rsplit("\u256f", 1)  # the last frame drawn, and what the view left
    assert "registering api:7 (4s)" in frame  # the phase and its time, as the title
    assert "ecs-svc/a   PRIMARY  -                      2        2        0  Blue" in frame
    assert "traffic: Blue 90%, Green 10%" in frame
    assert "01:02:06 (service api) has started 1 tasks: (task 1234)." in frame
    assert "ecs-svc/2" not in frame  # the board shown is the latest
    assert [line.rstrip() for line in after.strip().splitlines()] == [
        "01:02:04 == registering api:7",
        "01:02:06 (service api) has started 1 tasks: (task 1234).",
        "01:02:08 [bold]not markup[/bold]",
        "deployment  status   task definition  desired  running  pending  rollout",
        "ecs-svc/a   PRIMARY  -                      2        2        0  Blue",
        "ecs-svc/b   ACTIVE   -                      2        2        0  Green",
        "traffic: Blue 90%, Green 10%",
    ]
    assert "\x1b[" in console.file.getvalue()  # drawn for a terminal
    assert capsys.readouterr().err == ""  # nothing went around the console


def test_a_terminal_panel_before_any_look_says_it_waits() -> None:
    console = Console(file=io.StringIO(), record=True, force_terminal=True, width=80)
    view = DeployView(as_json=False, live=True, console=console, clock=Clock())
    console.print(view._render())
    assert "waiting for the first look" in console.export_text()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_live_panel_on_stderr_masks_a_secret(monkeypatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.delenv("CI", raising=False)
    SECRETS.register(SECRET)
    with DeployView(as_json=False, live=True, clock=Clock()) as view:
        assert view.live  # stderr is a terminal: the panel, on Out's redacting console
        view.news(f"hook said token={SECRET}")
        view._live.refresh()
    printed = terminal.getvalue()
    assert "hook said token=" in printed and SECRET not in printed


def test_ci_gets_plain_lines_even_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr("sys.stderr", _Terminal())
    monkeypatch.setenv("CI", "true")
    assert not DeployView(as_json=False, live=True).live


def test_the_live_panel_is_stopped_while_a_question_is_asked() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with DeployView(False, live=True, console=console) as view:
        assert view._live is not None and view._live.is_started
        with view.paused():
            assert not view._live.is_started  # the prompt has the terminal to itself
        assert view._live.is_started


def test_the_lines_so_far_are_printed_above_a_question_and_not_again_after() -> None:
    from rich.text import Text

    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    printed: list[str] = []  # the lines printed for good (the panel's frames are not Text)
    original = console.print

    def spy(*objects, **kwargs) -> None:
        printed.extend(str(o) for o in objects if isinstance(o, Text))
        original(*objects, **kwargs)

    console.print = spy  # type: ignore[method-assign]
    clock = Clock()
    with DeployView(False, live=True, console=console, clock=clock) as view:
        view.news("-  image: old")
        view.news("+  image: new")
        with view.paused():
            before_question = list(printed)
        view.news("deployed")
    assert [line[9:] for line in before_question] == ["-  image: old", "+  image: new"]
    assert [line[9:] for line in printed] == ["-  image: old", "+  image: new", "deployed"]
