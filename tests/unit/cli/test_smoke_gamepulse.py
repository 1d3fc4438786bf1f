"""`shipyard -C GamePulse smoke staging`: GamePulse's own [smoke] checks, run by the CLI
against the real GamePulse server on a free loopback port (as the staging listener)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

import pytest

from shipyard_testing.http_servers import gamepulse_server

PROJECT = SimpleNamespace(project=Path(__file__).resolve().parents[3] / "GamePulse")


@pytest.fixture
def gamepulse() -> Iterator[Callable[[str], str]]:
    """Factory: gamepulse(version) -> the base URL of a real GamePulse server."""
    with ExitStack() as servers:
        yield lambda version: servers.enter_context(gamepulse_server(version))


def test_gamepulse_passes_its_checks_and_the_reports_say_so(shipyard, gamepulse,
                                                             tmp_path) -> None:
    url = gamepulse("1.4.0")
    reports = tmp_path / "reports"
    result = shipyard(PROJECT, "smoke", "staging", "--version", "1.4.0", "--report-json",
                      str(reports / "smoke.json"), "--junit", str(reports / "smoke.xml"),
                      env={"SHIPYARD_LISTENER_GAMEPULSE_8081": url})

    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines[0].startswith(f"smoke staging: {url}, version 1.4.0 (--version), run smoke-")
    assert lines[-1].startswith("7 passed, 0 failed in ")
    assert any(line.split()[:3] == ["ok", "records", "an"] and " 201 " in line
               for line in lines)
    report = json.loads((reports / "smoke.json").read_text())
    assert (report["passed"], report["total"]) == (True, 7)
    assert [c["name"] for c in report["checks"]] == [
        "health", "serves the deployed version", "records an event",
        "lists a match's events", "summarises a match", "refuses an invalid event", "metrics"]
    suite = ET.parse(reports / "smoke.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("7", "0")


def test_an_old_version_fails_with_exit_17_and_the_reports_are_written(shipyard, gamepulse,
                                                                       tmp_path) -> None:
    url = gamepulse("1.3.0")
    junit, summary = tmp_path / "smoke.xml", tmp_path / "summary.md"
    result = shipyard(PROJECT, "smoke", "staging", "--version", "1.4.0", "--json",
                      "--junit", str(junit), env={"SHIPYARD_LISTENER_GAMEPULSE_8081": url,
                                                  "GITHUB_STEP_SUMMARY": str(summary)})

    assert result.code == 17, result.err
    report = json.loads(result.out)
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [(c["name"], c["failures"]) for c in failed] == [
        ("serves the deployed version",
         ['version is "1.3.0", expected the deployed version 1.4.0'])]
    assert json.loads(result.err)["error"] == {
        "code": "checks", "exit": 17,
        "message": "1 of 7 smoke checks of staging failed: serves the deployed version; the "
                   "report says why"}
    failure = ET.parse(junit).getroot().find("testsuite/testcase[@name='serves the deployed "
                                             "version']/failure")
    assert failure.get("message") == 'version is "1.3.0", expected the deployed version 1.4.0'
    job_summary = summary.read_text().splitlines()
    assert job_summary[0] == "### shipyard smoke staging: 7 checks 1 failed"
    assert len([row for row in job_summary if row.startswith("| ok |")]) == 6
    (failed_row,) = [row for row in job_summary if row.startswith("| FAIL |")]
    assert failed_row.startswith("| FAIL | serves the deployed version | GET /version | 200 | ")
    assert failed_row.endswith('| version is "1.3.0", expected the deployed version 1.4.0 |')


def test_bad_input_is_one_line_and_no_request(shipyard, tmp_path, monkeypatch) -> None:
    for name in ("GAMEPULSE_STAGING_URL", "GAMEPULSE_PRODUCTION_URL"):
        monkeypatch.delenv(name, raising=False)
    unset = shipyard(PROJECT, "smoke", "staging", "--version", "1.4.0")
    assert unset.code == 3
    assert unset.err.startswith("error: environments.staging.health.url = "
                                "'${SHIPYARD_LISTENER_GAMEPULSE_8081:-${GAMEPULSE_STAGING_URL:-}}'"
                                " comes out empty here")
    private = shipyard(PROJECT, "smoke", "production", "--version", "1.4.0",
                       env={"GAMEPULSE_PRODUCTION_URL": "http://192.168.1.20"})
    assert private.code == 3 and "192.168.1.20 is a private address" in private.err
    folder = shipyard(PROJECT, "smoke", "staging", "--junit", str(tmp_path))
    assert (folder.code, folder.err) == (2, f"error: report path {tmp_path} is a folder; name "
                                            "a file in it\n")
    summary = shipyard(PROJECT, "smoke", "staging", env={"GITHUB_STEP_SUMMARY": str(tmp_path)})
    assert summary.code == 2 and summary.err.startswith(f"error: GITHUB_STEP_SUMMARY {tmp_path}")
    assert [run.out for run in (unset, private, folder, summary)] == ["", "", "", ""]
