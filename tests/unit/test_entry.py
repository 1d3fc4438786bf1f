"""The console script's start-up: the collector while importing and running, and the exit."""

from __future__ import annotations

import gc
import time

import pytest

import shipyard.cli
from shipyard import entry


class _Exited(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@pytest.fixture
def fake_exit(monkeypatch: pytest.MonkeyPatch):
    def exit_(code: int) -> None:
        raise _Exited(code)

    monkeypatch.setattr(entry.os, "_exit", exit_)
    yield
    gc.unfreeze()
    gc.enable()


def test_collector_is_off_for_a_short_command_and_back_for_a_long_one(
        monkeypatch: pytest.MonkeyPatch, fake_exit: None) -> None:
    seen = {}

    def command() -> int:
        seen["at start"] = gc.isenabled()
        deadline = time.monotonic() + 5
        while not gc.isenabled() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["later"] = gc.isenabled()
        return 3

    monkeypatch.setattr(entry, "COLLECTOR_BACK_AFTER", 0.05)
    monkeypatch.setattr(shipyard.cli, "main", command)
    with pytest.raises(_Exited) as exited:
        entry.run()
    assert exited.value.code == 3
    assert seen == {"at start": False, "later": True}
