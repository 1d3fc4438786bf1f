"""The scan gate and its reports, as tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shipyard.domain.scan_policy import (
    AllowlistEntry,
    Finding,
    evaluate,
    findings_from_ecr,
    parse_allowlist,
)
from shipyard.domain.scan_report import json_report, sarif_report
from shipyard.errors import ConfigError

TODAY = date(2026, 11, 29)
CRIT = Finding("CVE-1", "CRITICAL", "openssl", "1.0", "1.1")
HIGH = Finding("CVE-2", "HIGH", "zlib", "1.2")
LOW = Finding("CVE-3", "LOW", "tzdata", "2020a")
UNTRIAGED = Finding("CVE-4", "UNTRIAGED", "x", "1")


@pytest.mark.parametrize(
    ("findings", "threshold", "allow", "blocking"),
    [
        ([CRIT, HIGH, LOW], "CRITICAL", [], ["CVE-1"]),  # only at or above the threshold
        ([CRIT, HIGH, LOW], "HIGH", [], ["CVE-1", "CVE-2"]),
        ([CRIT, HIGH, LOW], "LOW", [], ["CVE-1", "CVE-2", "CVE-3"]),
        ([HIGH, LOW], "CRITICAL", [], []),  # nothing critical: passes
        ([UNTRIAGED], "INFORMATIONAL", [], []),  # untriaged never trips a gate alone
        # an allowlisted finding does not block while its entry is valid
        ([CRIT], "CRITICAL", [AllowlistEntry("CVE-1", "unreachable", date(2027, 1, 1))], []),
        # the entry is valid through its expiry day
        ([CRIT], "CRITICAL", [AllowlistEntry("CVE-1", "unreachable", TODAY)], []),
        # an expired entry allows nothing
        ([CRIT], "CRITICAL", [AllowlistEntry("CVE-1", "old", date(2026, 1, 1))], ["CVE-1"]),
        ([], "CRITICAL", [], []),
    ],
)
def test_gate(findings, threshold, allow, blocking) -> None:
    decision = evaluate(findings, threshold, allow, TODAY)
    assert [f.id for f in decision.blocking] == blocking
    assert decision.passed is (not blocking)


def test_counts_and_expired_entries_are_reported() -> None:
    old = AllowlistEntry("CVE-9", "old", date(2020, 1, 1))
    decision = evaluate([CRIT, HIGH, HIGH, LOW], "CRITICAL", [old], TODAY)
    assert decision.counts == {"CRITICAL": 1, "HIGH": 2, "LOW": 1}
    assert decision.expired == (old,)


def test_unknown_threshold() -> None:
    with pytest.raises(ConfigError, match="'SEVERE' is not a severity"):
        evaluate([], "SEVERE", [], TODAY)


def test_basic_and_enhanced_findings_normalize_alike() -> None:
    basic = {"imageScanFindings": {"findings": [{
        "name": "CVE-1", "severity": "HIGH", "uri": "u", "description": "d",
        "attributes": [{"key": "package_name", "value": "zlib"},
                       {"key": "package_version", "value": "1.2"}]}]}}
    enhanced = {"imageScanFindings": {"enhancedFindings": [{
        "severity": "HIGH", "description": "d", "title": "CVE-1 - zlib",
        "packageVulnerabilityDetails": {
            "vulnerabilityId": "CVE-1", "sourceUrl": "u",
            "vulnerablePackages": [{"name": "zlib", "version": "1.2",
                                    "fixedInVersion": "1.3"}]}}]}}
    (b,) = findings_from_ecr(basic, "sha256:a", "linux/amd64")
    (e,) = findings_from_ecr(enhanced, "sha256:a", "linux/amd64")
    assert (b.id, b.severity, b.package, b.version) == (e.id, e.severity, e.package, e.version)
    assert e.fixed_version == "1.3"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[ignore]]\nid = "CVE-1"\nexpires = 2027-01-01\n', "entry 1 lacks reason"),
        ('[[ignore]]\nid = "CVE-1"\nreason = "x"\nexpires = "soon"\n', "expires is not a date"),
        ("[[ignore]\n", "not valid TOML"),
        # a date and time is not a date: comparing them would crash
        ('[[ignore]]\nid = "CVE-1"\nreason = "x"\nexpires = 2026-12-31T00:00:00\n',
         "expires is not a date"),
        # malformed shapes: a string, a table, a list of numbers where [[ignore]] tables go
        ('ignore = "CVE-1"\n', "'ignore' is not a list of entries"),
        ('[ignore]\nid = "CVE-1"\n', "'ignore' is not a list of entries"),
        ("ignore = [1, 2]\n", "entry 1 is not a table"),
        ('ignore = [["CVE-1"]]\n', "entry 1 is not a table"),
        ("a = " + "[" * 100_000 + "]" * 100_000, "line 1 nests 100000 deep"),
    ],
)
def test_bad_allowlists(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"allowlist allow.toml.*{message}"):
        parse_allowlist(text, "allow.toml")


def test_allowlist_parses() -> None:
    text = '[[ignore]]\nid = "CVE-1"\nreason = "not reachable"\nexpires = 2027-01-01\n'
    assert parse_allowlist(text, "a.toml") == [
        AllowlistEntry("CVE-1", "not reachable", date(2027, 1, 1))]


def test_allowlist_file_is_read_by_the_use_case(tmp_path: Path) -> None:
    from shipyard.usecases.scan import read_allowlist

    path = tmp_path / "allow.toml"
    path.write_text('[[ignore]]\nid = "CVE-2"\nreason = "r"\nexpires = 2027-01-01\n')
    assert [entry.id for entry in read_allowlist(path)] == ["CVE-2"]
    with pytest.raises(ConfigError, match="does not exist"):
        read_allowlist(tmp_path / "missing.toml")


def test_reports() -> None:
    allow = [AllowlistEntry("CVE-2", "ok", date(2027, 1, 1))]
    decision = evaluate([CRIT, HIGH], "HIGH", allow, TODAY)
    report = json_report("repo@sha256:x", [CRIT, HIGH], decision)
    assert (report["passed"], report["blocking"], report["allowlisted"]) == (False, 1, 1)
    assert [f["allowlisted"] for f in report["findings"]] == [False, True]
    sarif = sarif_report("repo@sha256:x", [CRIT, HIGH, LOW], "GamePulse/Dockerfile")
    run = sarif["runs"][0]
    assert [r["level"] for r in run["results"]] == ["error", "error", "note"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "GamePulse/Dockerfile"}
    rule = run["tool"]["driver"]["rules"][0]
    assert rule["properties"]["security-severity"] == "9.5"
    assert rule["help"]["text"] == "upgrade openssl to 1.1 or later"
