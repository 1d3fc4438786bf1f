"""``python -m gamepulse`` as a real process: environment, start-up errors, SIGTERM."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAMEPULSE_", "PORT"))}
    env["PYTHONPATH"] = str(APP_DIR)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Process:
    def __init__(self, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gamepulse"],
            env=_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict] = []

    def wait_for(self, message: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            record = json.loads(line)
            self.lines.append(record)
            if record["message"] == message:
                return record
        raise AssertionError(f"no {message!r} log line; got {self.lines}, {self.proc.stderr}")

    def finish(self, timeout: float = 10) -> int:
        out, err = self.proc.communicate(timeout=timeout)
        self.lines += [json.loads(line) for line in out.splitlines()]
        assert err == "", err
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def process():
    started: list[Process] = []

    def start(**env: str) -> Process:
        proc = Process(**env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def test_serves_and_stops_cleanly_on_sigterm(process, tmp_path):
    proc = process(
        PORT="0",
        GAMEPULSE_HOST="127.0.0.1",
        GAMEPULSE_DATA_DIR=str(tmp_path),
        GAMEPULSE_VERSION="2.0.0",
        GAMEPULSE_REVISION="deadbeef",
    )
    listening = proc.wait_for("listening")
    port = listening["port"]
    assert listening["version"] == "2.0.0"
    # An idle keep-alive connection must not hold the shutdown up.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/version")
    assert json.loads(conn.getresponse().read()) == {"version": "2.0.0", "revision": "deadbeef"}
    conn.request(
        "POST",
        "/v1/matches/m1/events",
        body=json.dumps({"player_id": "a", "type": "kill", "value": 1}),
    )
    assert conn.getresponse().status == 201
    started = time.monotonic()
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.finish() == 0
    assert time.monotonic() - started < 3
    conn.close()
    messages = [r["message"] for r in proc.lines]
    assert messages[-1] == "stopped"
    assert messages.index("stopping") < messages.index("stopped")
    assert proc.lines[-1]["clean"] is True
    assert next(r for r in proc.lines if r["message"] == "stopping")["signal"] == "SIGTERM"
    assert len(list(tmp_path.glob("events-*.jsonl"))) == 1


def test_sigint_also_stops(process):
    proc = process(PORT="0", GAMEPULSE_HOST="127.0.0.1")
    proc.wait_for("listening")
    proc.proc.send_signal(signal.SIGINT)
    assert proc.finish() == 0


def test_version_file_is_used_when_env_is_empty(process, tmp_path):
    version_file = tmp_path / "VERSION"
    version_file.write_text("3.4.5\n")
    proc = process(
        PORT="0",
        GAMEPULSE_HOST="127.0.0.1",
        GAMEPULSE_VERSION="",
        GAMEPULSE_VERSION_FILE=str(version_file),
    )
    assert proc.wait_for("listening")["version"] == "3.4.5"
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.finish() == 0


def test_repository_version_txt_is_the_fallback():
    from gamepulse.config import Config

    expected = (APP_DIR.parent / "version.txt").read_text().strip()
    assert Config.from_env({}).version == expected


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PORT": "http"}, "PORT='http' is not an integer"),
        ({"PORT": "70000"}, "PORT=70000 is out of range"),
        ({"GAMEPULSE_FSYNC": "maybe"}, "GAMEPULSE_FSYNC"),
        ({"GAMEPULSE_SHUTDOWN_GRACE": "soon"}, "GAMEPULSE_SHUTDOWN_GRACE"),
    ],
)
def test_bad_configuration_exits_2_with_a_clear_message(process, env, fragment):
    proc = process(**env)
    assert proc.finish() == 2
    assert proc.lines[-1]["level"] == "error"
    assert fragment in proc.lines[-1]["error"]


def test_port_in_use_exits_1(process):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = process(PORT=str(port), GAMEPULSE_HOST="127.0.0.1")
        assert proc.finish() == 1
    assert proc.lines[-1]["message"] == "cannot listen"


def test_default_port_and_host():
    from gamepulse.config import Config

    config = Config.from_env({})
    assert (config.host, config.port) == ("0.0.0.0", 8080)
    assert config.data_dir is None
