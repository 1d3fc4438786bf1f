"""`shipyard loadtest`: real Locust runs of GamePulse's scenario against the real GamePulse
server on 127.0.0.1, through the command line (`shipyard.cli.main`), with GamePulse's own
shipyard.toml; only the run's length is cut to a few seconds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.adapters import locust_runner
from shipyard.cli import main
from shipyard_testing.gamepulse_server import Served, serve_gamepulse

ROOT = Path(__file__).resolve().parents[2]
GAMEPULSE = ROOT / "GamePulse"
SHORT = ["--duration", "3", "--users", "4", "--spawn-rate", "4"]

pytestmark = pytest.mark.integration


@pytest.fixture
def gamepulse() -> Iterator[Served]:
    with serve_gamepulse() as served:
        yield served


@pytest.fixture
def staging_env(monkeypatch: pytest.MonkeyPatch, gamepulse: Served, tmp_path: Path) -> Path:
    """staging's health.url names the server (the sandbox's listener variable unset); the
    job summary goes to a file of the test's."""
    monkeypatch.delenv("SHIPYARD_LISTENER_GAMEPULSE_8081", raising=False)
    monkeypatch.setenv("GAMEPULSE_STAGING_URL", gamepulse.url)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs.txt"))
    return tmp_path


def _loadtest(reports: Path, *flags: str) -> int:
    return main(["-C", str(GAMEPULSE), "loadtest", "staging", *SHORT,
                 "--reports-dir", str(reports), *flags])


def test_a_run_within_the_thresholds_passes_and_writes_every_report(
        staging_env: Path, gamepulse: Served) -> None:
    reports = staging_env / "reports"
    assert _loadtest(reports) == 0
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["passed"] is True and summary["url"] == gamepulse.url
    assert summary["locust_exit_code"] == 0
    figures = summary["figures"]
    assert figures["requests"] > 0 and figures["failures"] == 0
    # Every endpoint of the scenario was exercised, named by route.
    assert {(e["method"], e["name"]) for e in figures["endpoints"]} == {
        ("GET", "/health"), ("POST", "/v1/matches/[match_id]/events"),
        ("GET", "/v1/matches/[match_id]/events"), ("GET", "/v1/matches/[match_id]/summary")}
    assert [t["name"] for t in summary["thresholds"]] == [
        "requests", "p95_ms", "p99_ms", "error_rate", "rps"]
    assert all(t["passed"] for t in summary["thresholds"])
    assert "<html" in (reports / "locust.html").read_text().lower()
    assert (reports / "locust_stats.csv").read_text().startswith("Type,Name,Request Count")
    assert "Aggregated" in (reports / "locust_stats_history.csv").read_text()
    assert (reports / "loadtest.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    step = (staging_env / "step-summary.md").read_text()
    assert "### Load test of staging passed" in step
    assert "| p95_ms |" in step and str(reports / "loadtest.png") in step
    assert "loadtest-passed=true" in (staging_env / "outputs.txt").read_text()


def test_a_threshold_not_met_exits_17_with_the_reports_written(
        staging_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = staging_env / "reports"
    assert _loadtest(reports, "--min-rps", "1000000", "--p95-ms", "0.001") == 17
    error = capsys.readouterr().err
    assert error.startswith("error: the load test of staging failed: ")
    assert "is below the minimum 1000000" in error and "p95 latency" in error
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["passed"] is False and summary["figures"]["requests"] > 0
    failed = {t["name"] for t in summary["thresholds"] if not t["passed"]}
    assert failed == {"rps", "p95_ms"}
    assert (reports / "loadtest.png").is_file() and (reports / "locust.html").is_file()
    assert "### Load test of staging FAILED" in (staging_env / "step-summary.md").read_text()
    assert "loadtest-passed=false" in (staging_env / "outputs.txt").read_text()


def test_a_scenario_that_overruns_its_bound_is_stopped_and_fails(
        staging_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A locustfile that hangs as it is imported: the run is stopped at its bound (cut to
    # seconds here), the child's whole group is gone, and the command says why, exit 17.
    project = staging_env / "project"
    (project / "loadtest").mkdir(parents=True)
    (project / "loadtest" / "locustfile.py").write_text(
        "import os, time\n"
        "open(os.environ['PID_FILE'], 'w').write(str(os.getpid()))\n"
        "time.sleep(600)\n")
    (project / "shipyard.toml").write_text(
        '[loadtest]\nduration = 1\n[environments.staging]\ncluster = "c"\nservice = "s"\n'
        'task_definition = "td.json"\n[environments.staging.health]\n'
        'url = "${GAMEPULSE_STAGING_URL}"\n')
    # Statistics an earlier run left there must not pass for this run's.
    reports = project / ".shipyard" / "loadtest" / "staging"
    reports.mkdir(parents=True)
    (reports / "locust.json").write_text(json.dumps([{
        "name": "/health", "method": "GET", "num_requests": 500, "num_failures": 0,
        "start_time": 1.0, "last_request_timestamp": 11.0, "response_times": {"5": 500}}]))
    monkeypatch.setenv("PID_FILE", str(staging_env / "child.pid"))
    monkeypatch.setattr(locust_runner, "START_MARGIN", 4.0)
    monkeypatch.setattr(locust_runner, "STOP_GRACE", 2.0)
    assert main(["-C", str(project), "loadtest", "staging"]) == 17
    error = capsys.readouterr().err
    assert "Locust did not finish within 7s and was stopped" in error
    child = int((staging_env / "child.pid").read_text())
    assert not Path(f"/proc/{child}").exists() or "zombie" in Path(
        f"/proc/{child}/status").read_text()
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["passed"] is False and summary["locust_exit_code"] is None
    assert summary["figures"]["requests"] == 0 and not (reports / "locust.json").exists()
