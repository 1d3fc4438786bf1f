"""Scan reports: our JSON, and SARIF 2.1.0 for GitHub code scanning."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from shipyard.domain.scan_policy import Finding, GateDecision

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub ranks alerts by `security-severity` (a CVSS-like score) on the rule.
_SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0",
                      "INFORMATIONAL": "0.0", "UNDEFINED": "0.0", "UNTRIAGED": "0.0"}
_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning"}


def json_report(image: str, findings: list[Finding], decision: GateDecision) -> dict[str, Any]:
    """The whole scan as one object: image, gate outcome, counts, every finding."""
    allowed = {id(f) for f in decision.allowed}
    return {
        "image": image,
        "threshold": decision.threshold,
        "passed": decision.passed,
        "counts": decision.counts,
        "blocking": len(decision.blocking),
        "allowlisted": len(decision.allowed),
        "expired_allowlist_entries": [e.id for e in decision.expired],
        "findings": [{**asdict(f), "allowlisted": id(f) in allowed} for f in findings],
    }


def sarif_report(image: str, findings: list[Finding], artifact: str) -> dict[str, Any]:
    """SARIF with one rule per vulnerability id and one result per finding.

    Code scanning needs a file location; a container finding belongs to the file that made the
    image, so `artifact` is the Dockerfile's path in the repository.
    """
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for finding in findings:
        rules.setdefault(finding.id, {
            "id": finding.id,
            "name": finding.id,
            "shortDescription": {"text": f"{finding.id} in {finding.package or 'the image'}"},
            "fullDescription": {"text": finding.description or finding.id},
            "helpUri": finding.uri or None,
            "help": {"text": _help(finding)},
            "properties": {"security-severity": _SECURITY_SEVERITY.get(finding.severity, "0.0"),
                           "tags": ["security", "vulnerability", finding.severity.lower()]},
        })
        results.append({
            "ruleId": finding.id,
            "level": _LEVEL.get(finding.severity, "note"),
            "message": {"text": f"{finding.severity}: {finding.id} in {finding.package} "
                                f"{finding.version} ({finding.platform or 'image'} "
                                f"{finding.image[:19]}); {_help(finding)}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact},
                                                "region": {"startLine": 1}}}],
            "partialFingerprints": {"vulnerability/package": f"{finding.id}/{finding.package}"},
        })
    for rule in rules.values():
        if rule["helpUri"] is None:
            del rule["helpUri"]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "shipyard-ecr-scan",
                                "informationUri": "https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning.html",
                                "rules": list(rules.values())}},
            "automationDetails": {"id": f"ecr-scan/{image}"},
            "results": results,
        }],
    }


def _help(finding: Finding) -> str:
    if finding.fixed_version:
        return f"upgrade {finding.package} to {finding.fixed_version} or later"
    return "no fixed version is known; rebuild on a newer base image when one appears"
