"""Scan findings, the allowlist, and the gate that decides whether an image may ship.

ECR reports basic-scan findings (`findings`: name, severity, attributes) and enhanced-scan
findings (`enhancedFindings`: packageVulnerabilityDetails) in different shapes; both become
`Finding` here so the gate and the reports see one kind of thing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shipyard.domain.toml_text import TomlTextError, parse_toml
from shipyard.errors import ConfigError

# Highest first. UNTRIAGED (enhanced scanning) and UNDEFINED rank below INFORMATIONAL: they
# cannot trip a gate on their own, but they are counted and reported.
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED", "UNTRIAGED")
GATE_SEVERITIES = SEVERITIES[:5]  # what a gate's threshold can be set to


def severity_rank(severity: str) -> int:
    """0 for CRITICAL, larger for less severe; unknown severities rank last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


@dataclass(frozen=True)
class Finding:
    """One vulnerability in one platform image."""

    id: str
    severity: str
    package: str = ""
    version: str = ""
    fixed_version: str = ""
    uri: str = ""
    description: str = ""
    image: str = ""  # the platform image's digest
    platform: str = ""


def findings_from_ecr(response: dict[str, Any], image: str, platform: str) -> list[Finding]:
    """Normalize a DescribeImageScanFindings response (basic or enhanced)."""
    scan = response.get("imageScanFindings", {})
    result = []
    for item in scan.get("findings", []):
        attributes = {a["key"]: a.get("value", "") for a in item.get("attributes", [])}
        result.append(Finding(
            id=item.get("name", ""), severity=item.get("severity", "UNDEFINED"),
            package=attributes.get("package_name", ""),
            version=attributes.get("package_version", ""),
            fixed_version=attributes.get("fixed_version", ""),
            uri=item.get("uri", ""), description=item.get("description", ""),
            image=image, platform=platform))
    for item in scan.get("enhancedFindings", []):
        details = item.get("packageVulnerabilityDetails", {})
        package = (details.get("vulnerablePackages") or [{}])[0]
        result.append(Finding(
            id=details.get("vulnerabilityId", item.get("title", "")),
            severity=item.get("severity", "UNDEFINED"),
            package=package.get("name", ""), version=package.get("version", ""),
            fixed_version=package.get("fixedInVersion", ""),
            uri=details.get("sourceUrl", ""), description=item.get("description", ""),
            image=image, platform=platform))
    return result


@dataclass(frozen=True)
class AllowlistEntry:
    """A finding id accepted for a reason until an expiry date."""

    id: str
    reason: str
    expires: date


def parse_allowlist(text: str, path: str) -> list[AllowlistEntry]:
    """Parse `[[ignore]]` entries (id, reason, expires) from a TOML file's text; `path` names
    it in messages.

    Every entry needs all three: an exception nobody explained or that never ends is how
    findings go unfixed for years.
    """
    try:
        data = parse_toml(text)
    except TomlTextError as exc:
        raise ConfigError(f"allowlist {path}: {exc}") from exc
    # A misspelt key would otherwise be dropped in silence: `[[ignroe]]` allows nothing, and
    # the team believes it allowed something. Keys are named; values never (they may be
    # anything pasted in).
    for key in data:
        if key != "ignore":
            raise ConfigError(f"allowlist {path}: unknown key {key!r}; the file holds only "
                              "[[ignore]] entries with id, reason and expires")
    ignore = data.get("ignore", [])
    if not isinstance(ignore, list):
        raise ConfigError(f"allowlist {path}: 'ignore' is not a list of entries; write each "
                          "entry as an [[ignore]] table with id, reason and expires")
    entries = []
    for number, item in enumerate(ignore, start=1):
        if not isinstance(item, dict):
            raise ConfigError(f"allowlist {path}: entry {number} is not a table; write it as "
                              "an [[ignore]] table with id, reason and expires")
        unknown = [key for key in item if key not in ("id", "reason", "expires")]
        if unknown:
            raise ConfigError(f"allowlist {path}: entry {number} has the unknown key "
                              f"{unknown[0]!r}; an entry holds only id, reason and expires")
        missing = [key for key in ("id", "reason", "expires") if not item.get(key)]
        if missing:
            raise ConfigError(f"allowlist {path}: entry {number} lacks {', '.join(missing)}; "
                              "every entry needs id, reason and expires (a date)")
        if not isinstance(item["expires"], date) or isinstance(item["expires"], datetime):
            raise ConfigError(f"allowlist {path}: entry {number} expires is not a date; "
                              "write it as 2026-12-31 (no quotes)")
        entries.append(AllowlistEntry(str(item["id"]), str(item["reason"]), item["expires"]))
    return entries


@dataclass(frozen=True)
class GateDecision:
    """What the gate saw and decided."""

    threshold: str
    counts: dict[str, int]
    blocking: tuple[Finding, ...]
    allowed: tuple[Finding, ...]
    expired: tuple[AllowlistEntry, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.blocking


def evaluate(findings: Iterable[Finding], threshold: str, allowlist: Iterable[AllowlistEntry],
             today: date) -> GateDecision:
    """Block on findings at or above `threshold` that no unexpired allowlist entry covers."""
    if threshold not in GATE_SEVERITIES:
        raise ConfigError(f"scan threshold '{threshold}' is not a severity; use one of "
                          f"{', '.join(GATE_SEVERITIES)}")
    entries = list(allowlist)
    active = {e.id for e in entries if e.expires >= today}
    expired = tuple(e for e in entries if e.expires < today)
    findings = list(findings)
    counts = Counter(f.severity for f in findings)
    limit = severity_rank(threshold)
    blocking: list[Finding] = []
    allowed: list[Finding] = []
    for finding in findings:
        if severity_rank(finding.severity) > limit:
            continue
        (allowed if finding.id in active else blocking).append(finding)
    ordered = {s: counts[s] for s in SEVERITIES if counts.get(s)}
    return GateDecision(threshold, ordered, tuple(blocking), tuple(allowed), expired)
