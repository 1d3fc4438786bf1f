"""A sandbox whose port is taken says so at once instead of waiting out its start timeout
(moto's server waits forever for a port it could not bind), and leaves nothing running."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from shipyard_sandbox import control

pytestmark = pytest.mark.integration


def test_a_taken_port_fails_the_start_quickly_and_cleanly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(control.SandboxError, match=r"could not bind its ports \(1 tries\)"):
            control.up(tmp_path / "sbx", region="ap-northeast-2", aws_port=port, timeout=60)
        assert time.monotonic() - started < 30  # not the 60 s timeout
    assert control.read_state(tmp_path / "sbx") is None
    assert b"in use" in (tmp_path / "sbx" / "sandbox.log").read_bytes()
