"""Locust as a child process: one headless run, bounded in wall-clock time, then its reports.

A child process rather than Locust's library API: Locust monkey-patches the standard library
with gevent as it is imported, which Shipyard's own HTTP and AWS clients must not run under,
and a child can be killed, with everything it started, when it overruns. It runs in a
session of its own; past its bound (the run time plus a margin for starting and stopping)
the whole group gets SIGTERM, on which Locust writes its reports and quits, then SIGKILL.

Its output goes to `locust.log` beside the reports; its working folder is the reports
folder, so that no `locust.conf` or `pyproject.toml` of wherever Shipyard was started
changes the run, and no `LOCUST_*` variable does either.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

START_MARGIN = 30.0  # seconds to import the locustfile and start, beyond the run time
STOP_GRACE = 10.0  # seconds between SIGTERM (write the reports, quit) and SIGKILL
PREFIX = "locust"  # locust.html, locust.json, locust_stats.csv, locust_stats_history.csv...


def _report(suffix: str) -> property:
    return property(lambda files: files.folder / f"{PREFIX}{suffix}")


@dataclass(frozen=True)
class LocustFiles:
    """Where one run's reports go, all in one folder (each a Path)."""

    folder: Path
    html = _report(".html")
    json = _report(".json")  # Locust's statistics, written once the users stopped
    stats_csv = _report("_stats.csv")
    history_csv = _report("_stats_history.csv")
    failures_csv = _report("_failures.csv")
    exceptions_csv = _report("_exceptions.csv")
    log = _report(".log")  # Locust's own output

    def all(self) -> list[Path]:
        return [self.html, self.json, self.stats_csv, self.history_csv, self.failures_csv,
                self.exceptions_csv, self.log]


@dataclass(frozen=True)
class LocustRun:
    exit_code: int | None  # None: it was killed at its bound
    seconds: float
    bound: float

    @property
    def killed(self) -> bool:
        return self.exit_code is None


def locust_installed() -> bool:
    return importlib.util.find_spec("locust") is not None


def run_locust(*, locustfile: Path, host: str, users: int, spawn_rate: float, duration: int,
               files: LocustFiles, env: Mapping[str, str]) -> LocustRun:
    """Run Locust headless for `duration` seconds against `host`; wait at most the bound."""
    files.folder.mkdir(parents=True, exist_ok=True)
    for stale in files.all():  # a report left by an earlier run must not pass for this one's
        stale.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile.resolve()), "--headless",
            "--host", host, "--users", str(users), "--spawn-rate", f"{spawn_rate:g}",
            "--run-time", f"{duration}s", "--csv", PREFIX, "--only-summary",
            "--html", files.html.name, "--json-file", PREFIX,
            "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    child_env = {k: v for k, v in env.items() if not k.startswith("LOCUST_")}
    bound = duration + START_MARGIN + STOP_GRACE
    started = time.monotonic()
    with files.log.open("wb") as log:
        process = subprocess.Popen(argv, cwd=files.folder, env=child_env,
                                   stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code: int | None = process.wait(timeout=bound - STOP_GRACE)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if process.poll() is None:  # overran, or Shipyard itself is being stopped
                _stop(process)
    return LocustRun(code, time.monotonic() - started, bound)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's group (Locust writes its reports on it), SIGKILL after
    STOP_GRACE; the group is gone either way when this returns."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, STOP_GRACE)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def last_line(path: Path, limit: int = 64 * 1024) -> str:
    """The last non-empty line of a log (its end only: a log may be large), or ""."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - limit))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
