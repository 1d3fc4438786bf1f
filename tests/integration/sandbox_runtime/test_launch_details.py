"""Two launch details found by running GamePulse's own image: its StopSignal, and a forwarder
asked to reach a task that has already ended."""

from __future__ import annotations

import signal
import subprocess

import pytest

from shipyard_sandbox.runtime.forwarder import Forwarder, ForwarderError
from shipyard_sandbox.runtime.launch import ContainerStartError, _stop_signal

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("value", "expected"), [
    ("SIGTERM", signal.SIGTERM), ("TERM", signal.SIGTERM), ("sigint", signal.SIGINT),
    ("9", 9), (None, signal.SIGTERM), ("", signal.SIGTERM)])
def test_an_image_s_stop_signal_by_name_or_number(value, expected) -> None:
    assert _stop_signal(value, "app") == expected


def test_an_unknown_stop_signal_is_a_start_error_naming_it() -> None:
    with pytest.raises(ContainerStartError, match="unknown StopSignal 'SIGNOPE'"):
        _stop_signal("SIGNOPE", "app")


def test_a_forwarder_to_a_task_that_has_ended_says_why(tmp_path) -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()
    with pytest.raises(ForwarderError, match=f"task process {ended.pid} did not start: "):
        Forwarder.start(ended.pid, 8080, tmp_path / "port.sock", timeout=5)
    assert not (tmp_path / "port.sock").exists()
