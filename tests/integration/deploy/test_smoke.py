"""`shipyard smoke`: the checks of [smoke] through the sandbox's staging listener, after a real
deploy; without --version the expected version is the one the service runs, read from the
running image's label as `shipyard status` reads it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.integration

# The world's busybox image serves /health ("ok") and /version ({"version": ...}) only.
SMOKE = """
[smoke]
timeout = 5
total_timeout = 30
retries = 1

[[smoke.checks]]
name = "health"
path = "/health"

[[smoke.checks]]
name = "version"
path = "/version"
version_field = "version"

[[smoke.checks]]
name = "an unknown path is 404"
path = "/nothing-here"
status = 404
"""


@pytest.fixture(scope="module")
def smoked(world):
    """The world's project with [smoke] added and committed."""
    config = world.repo.project / "shipyard.toml"
    config.write_text(config.read_text() + SMOKE)
    world.repo.git("commit", "-q", "-am", "smoke checks")
    return world


def test_smoke_after_a_deploy_checks_the_version_the_service_runs(smoked, shipyard,
                                                                  tmp_path) -> None:
    world = smoked
    world.push(shipyard, "1.1.0")
    deployed = world.run(shipyard, "deploy", "staging", "--version", "1.1.0", "--json")
    assert deployed.code == 0, deployed.out + deployed.err

    reports = tmp_path / "reports"
    result = world.run(shipyard, "smoke", "staging", "--json", "--report-json",
                       str(reports / "smoke.json"), "--junit", str(reports / "smoke.xml"))
    assert result.code == 0, result.out + result.err
    report = result.json()
    assert (report["version"], report["version_from"], report["url"]) == (
        "1.1.0", "status", world.url(8081))
    assert [(c["name"], c["status"], c["passed"]) for c in report["checks"]] == [
        ("health", 200, True), ("version", 200, True), ("an unknown path is 404", 404, True)]
    assert json.loads((reports / "smoke.json").read_text()) == report
    suite = ET.parse(reports / "smoke.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("3", "0")


def test_a_version_other_than_the_served_one_fails_with_exit_17(smoked, shipyard,
                                                                tmp_path) -> None:
    world = smoked
    world.push(shipyard, "1.1.0")
    if world.served_version(8081) != "1.1.0":  # this module's first test deploys it
        deployed = world.run(shipyard, "deploy", "staging", "--version", "1.1.0")
        assert deployed.code == 0, deployed.out + deployed.err

    junit = tmp_path / "smoke.xml"
    result = world.run(shipyard, "smoke", "staging", "--version", "1.2.0", "--junit",
                       str(junit))
    assert result.code == 17, result.out + result.err
    assert "FAIL  version" in result.out
    assert 'version is "1.1.0", expected the deployed version 1.2.0' in result.out
    assert result.err.strip().endswith(
        "error: 1 of 3 smoke checks of staging failed: version; the report says why")
    failures = ET.parse(junit).getroot().findall("testsuite/testcase/failure")
    assert [f.get("message") for f in failures] == [
        'version is "1.1.0", expected the deployed version 1.2.0']
