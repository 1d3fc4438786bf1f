"""`shipyard scan`: wait for ECR's findings on every platform image, then gate on them.

ECR quirks handled here (DESIGN.md section 6):
- basic scanning runs once per image per day, scan-on-push included: a second StartImageScan
  answers LimitExceeded, so existing findings are reused rather than treated as an error;
- enhanced scanning (Inspector) reports ACTIVE, never COMPLETE, and is never started by hand;
  the boto3 waiter cannot end on ACTIVE, so we poll ourselves;
- an image index is not scanned itself: each platform image is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.adapters.ecr import Ecr
from shipyard.adapters.text_files import read_user_text
from shipyard.config import Config
from shipyard.domain.scan_policy import (
    AllowlistEntry,
    Finding,
    GateDecision,
    evaluate,
    findings_from_ecr,
    parse_allowlist,
)
from shipyard.domain.scan_report import json_report, sarif_report
from shipyard.errors import AwsError, ConfigError, ScanGateError
from shipyard.usecases.context import Context

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
BASIC_DONE = ("COMPLETE",)
ENHANCED_DONE = ("ACTIVE", "COMPLETE")
FAILED = ("FAILED", "UNSUPPORTED_IMAGE", "SCAN_ELIGIBILITY_EXPIRED", "FINDINGS_UNAVAILABLE")


@dataclass(frozen=True)
class ScanOptions:
    """What to scan and how strictly."""

    repository: str
    image: str  # a digest (sha256:...) or a tag
    threshold: str = "CRITICAL"
    allowlist: tuple[AllowlistEntry, ...] = ()
    timeout: float = 600.0
    poll_interval: float = 5.0
    json_report: Path | None = None
    sarif_report: Path | None = None
    dockerfile: str = "Dockerfile"


@dataclass(frozen=True)
class PlatformScan:
    """The scan of one platform image."""

    digest: str
    platform: str
    status: str
    scan_type: str
    reused: bool


@dataclass(frozen=True)
class ScanResult:
    """Per-platform scans, all findings, and the gate's decision."""

    image: str
    scans: tuple[PlatformScan, ...]
    findings: tuple[Finding, ...]
    decision: GateDecision
    reports: tuple[Path, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "passed": self.decision.passed,
            "threshold": self.decision.threshold,
            "counts": self.decision.counts,
            "blocking": [f.id for f in self.decision.blocking],
            "allowlisted": [f.id for f in self.decision.allowed],
            "platforms": [{"digest": s.digest, "platform": s.platform, "status": s.status,
                           "scan_type": s.scan_type, "reused": s.reused} for s in self.scans],
        }


def scan_image(options: ScanOptions, ctx: Context) -> ScanResult:
    """Scan every platform image of `options.image` and decide the gate; write the reports.

    The gate is enforced by `enforce_gate`, after the caller has shown the result, so CI gets
    the reports and the counts whichever way it goes.
    """
    ecr, clock = ctx.ecr, ctx.clock
    digest = options.image if options.image.startswith("sha256:") else ecr.resolve(
        options.repository, options.image)
    scan_type = ecr.scan_type()
    deadline = clock() + options.timeout
    scans, findings = [], []
    for child, platform in platform_images(ecr, options.repository, digest):
        response, scan = _await_findings(ecr, options, child, platform, scan_type, deadline,
                                         ctx.sleep, clock)
        scans.append(scan)
        findings.extend(findings_from_ecr(response, child, platform))
    decision = evaluate(findings, options.threshold, options.allowlist, ctx.today())
    image = f"{options.repository}@{digest}"
    reports = _write_reports(options, image, findings, decision)
    return ScanResult(image, tuple(scans), tuple(findings), decision, reports)


def enforce_gate(result: ScanResult) -> None:
    """Raise ScanGateError when findings reached the threshold (after reports are written)."""
    decision = result.decision
    if decision.passed:
        return
    worst = decision.blocking[0]
    raise ScanGateError(
        f"{result.image} has {len(decision.blocking)} finding(s) at or above "
        f"{decision.threshold}, e.g. {worst.id} ({worst.severity}) in {worst.package} "
        f"{worst.version}; fix them or add them to the allowlist with a reason and an expiry")


def scan_options_from_config(config: Config, repository: str = "", image: str = ""
                             ) -> ScanOptions:
    """Scan settings from shipyard.toml, the allowlist read and checked."""
    settings = config.scan
    reports = config.path(settings.reports_dir)
    allowlist = tuple(read_allowlist(config.path(settings.allowlist))) if settings.allowlist \
        else ()
    return ScanOptions(repository=repository, image=image, threshold=settings.threshold,
                       allowlist=allowlist, timeout=settings.timeout,
                       poll_interval=settings.poll_interval,
                       json_report=reports / "scan.json", sarif_report=reports / "scan.sarif",
                       dockerfile=os.fspath(config.build.dockerfile))


def read_allowlist(path: Path) -> list[AllowlistEntry]:
    """The allowlist file named by scan.allowlist, read and checked."""
    if not path.exists():
        raise ConfigError(f"allowlist {path} does not exist; create it or drop the setting")
    text = read_user_text(path, limit=1_000_000, error=ConfigError,
                          fix="make the allowlist a UTF-8 TOML file or drop the setting")
    return parse_allowlist(text, str(path))


def platform_images(ecr: Ecr, repository: str, digest: str) -> list[tuple[str, str]]:
    manifest, media_type = ecr.image_manifest(repository, digest)
    parsed = json.loads(manifest)
    if (media_type or parsed.get("mediaType")) not in INDEX_TYPES:
        return [(digest, "")]
    children = []
    for entry in parsed.get("manifests", []):
        platform = entry.get("platform", {})
        if platform.get("os") == "unknown":
            continue  # attestation manifests (buildx provenance) are not images
        name = "/".join(p for p in (platform.get("os"), platform.get("architecture"),
                                    platform.get("variant")) if p)
        children.append((entry["digest"], name))
    return children


def _await_findings(ecr: Ecr, options: ScanOptions, digest: str, platform: str, scan_type: str,
                    deadline: float, sleep: Callable[[float], None],
                    clock: Callable[[], float]) -> tuple[dict[str, Any], PlatformScan]:
    done = ENHANCED_DONE if scan_type == "ENHANCED" else BASIC_DONE
    started = reused = False
    while True:
        response = ecr.scan_findings(options.repository, digest)
        status = (response or {}).get("imageScanStatus", {}).get("status", "")
        if response is not None and status in done:
            # Findings that existed before we asked (scan-on-push, or today's earlier scan).
            reused = reused or not started
            return response, PlatformScan(digest, platform, status, scan_type, reused)
        if response is not None and status in FAILED:
            reason = response["imageScanStatus"].get("description", status)
            raise AwsError(f"the scan of {options.repository}@{digest} ended {status}: {reason}; "
                           "check that the image's OS is supported by ECR scanning")
        if response is None and scan_type != "ENHANCED" and not started:
            started = True
            reused = not ecr.start_scan(options.repository, digest)  # False: LimitExceeded
        if clock() >= deadline:
            raise AwsError(f"the scan of {options.repository}@{digest} did not finish within "
                           f"{options.timeout:.0f}s (status {status or 'none'}); raise the "
                           "scan timeout or check the scan in the ECR console")
        sleep(options.poll_interval)


def _write_reports(options: ScanOptions, image: str, findings: list[Finding],
                   decision: GateDecision) -> tuple[Path, ...]:
    written = []
    if options.json_report:
        _write_json(options.json_report, json_report(image, findings, decision))
        written.append(options.json_report)
    if options.sarif_report:
        _write_json(options.sarif_report, sarif_report(image, findings, options.dockerfile))
        written.append(options.sarif_report)
    return tuple(written)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
