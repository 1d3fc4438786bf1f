"""Fixtures of the hooks' tests: the fake AWS clients, and GamePulse itself for the HTTP checks.

The hooks' package is not installed: its folder (GamePulse/hooks/src) goes on sys.path, as
Lambda puts the unpacked code on its path; so do this folder (for `hooks_fakes`) and
GamePulse/app, whose real server the HTTP checks talk to on a free loopback port.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HOOKS_DIR = Path(__file__).resolve().parents[1]
for folder in (HOOKS_DIR / "src", HOOKS_DIR / "tests", HOOKS_DIR.parent / "app"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from gamepulse.config import Config  # noqa: E402 - needs the sys.path entries above
from gamepulse.logs import JsonLogger  # noqa: E402
from gamepulse.server import create_server  # noqa: E402
from hooks_fakes import REGION, FakeAws  # noqa: E402


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> FakeAws:
    """Every client the handlers make is this one fake."""
    from gamepulse_hooks import handlers

    fake = FakeAws()
    monkeypatch.setattr(handlers, "client", lambda service, settings=None: fake)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("ECR_REGISTRY", raising=False)
    return fake


@pytest.fixture
def gamepulse() -> Iterator[Any]:
    """Factory: gamepulse(version) -> the base URL of a real GamePulse server."""
    servers = []

    def start(version: str = "1.4.0") -> str:
        config = Config(host="127.0.0.1", port=0, version=version, revision="abc1234",
                        shutdown_grace=1, instance_id="hooks-test")
        server = create_server(config, JsonLogger(io.StringIO()))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(5)
        server.server_close()
        server.store.close()
