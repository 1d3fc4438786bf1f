"""The scan use case through its context: a fake ECR, and a clock and sleep moved by hand.

Each case is a script of what ECR answers, poll after poll; the fake records what was asked.
Nothing here waits: the clock advances by each sleep.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from shipyard.errors import AwsError
from shipyard.usecases.context import Context
from shipyard.usecases.scan import ScanOptions, scan_image

INDEX = "application/vnd.oci.image.index.v1+json"
ROOT = "sha256:" + "0" * 64
AMD64, ARM64 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def answer(status: str, *severities: str) -> dict:
    findings = [{"name": f"CVE-{n}", "severity": s} for n, s in enumerate(severities)]
    return {"imageScanStatus": {"status": status, "description": f"status {status}"},
            "imageScanFindings": {"findings": findings}}


class FakeEcr:
    """Answers scan_findings from a script per digest; None means 'no scan yet'."""

    def __init__(self, scripts: dict[str, list], scan_type: str = "BASIC",
                 limit_exceeded: bool = False) -> None:
        self.scripts = scripts
        self._scan_type = scan_type
        self.limit_exceeded = limit_exceeded
        self.started: list[str] = []

    def resolve(self, repository: str, tag: str) -> str:
        return ROOT

    def scan_type(self) -> str:
        return self._scan_type

    def image_manifest(self, repository: str, digest: str) -> tuple[str, str]:
        children = [{"digest": d, "platform": {"os": "linux", "architecture": a}}
                    for d, a in ((AMD64, "amd64"), (ARM64, "arm64")) if d in self.scripts]
        return json.dumps({"mediaType": INDEX, "manifests": children}), INDEX

    def scan_findings(self, repository: str, digest: str) -> dict | None:
        script = self.scripts[digest]
        return script.pop(0) if len(script) > 1 else script[0]

    def start_scan(self, repository: str, digest: str) -> bool:
        self.started.append(digest)
        return not self.limit_exceeded


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(ecr: FakeEcr, clock: Clock, **options: object):
    ctx = Context(env={}, region="ap-northeast-2", ecr=ecr, clock=clock, sleep=clock.sleep,
                  today=lambda: date(2026, 11, 29))
    settings = {"repository": "svc", "image": "1.0.0", "timeout": 60.0, "poll_interval": 5.0,
                **options}
    return scan_image(ScanOptions(**settings), ctx)  # type: ignore[arg-type]


def test_basic_scan_started_when_none_exists_then_polled_until_complete() -> None:
    ecr, clock = FakeEcr({AMD64: [None, answer("IN_PROGRESS"), answer("COMPLETE", "LOW")]}), Clock()
    result = run(ecr, clock)
    assert ecr.started == [AMD64]
    assert result.decision.passed and result.decision.counts == {"LOW": 1}
    assert clock.sleeps == [5.0, 5.0] and not result.scans[0].reused


def test_limit_exceeded_reuses_todays_findings() -> None:
    ecr = FakeEcr({AMD64: [None, answer("COMPLETE", "HIGH")]}, limit_exceeded=True)
    result = run(ecr, Clock())
    assert result.scans[0].reused and result.decision.counts == {"HIGH": 1}


def test_scan_on_push_findings_are_reused_without_starting_a_scan() -> None:
    ecr = FakeEcr({AMD64: [answer("COMPLETE")], ARM64: [answer("COMPLETE", "CRITICAL")]})
    result = run(ecr, Clock())
    assert ecr.started == [] and all(scan.reused for scan in result.scans)
    assert [scan.platform for scan in result.scans] == ["linux/amd64", "linux/arm64"]
    assert not result.decision.passed  # the arm64 image's CRITICAL finding blocks


def test_enhanced_scanning_ends_at_active_and_is_never_started() -> None:
    ecr = FakeEcr({AMD64: [None, answer("ACTIVE", "MEDIUM")]}, scan_type="ENHANCED")
    result = run(ecr, Clock())
    assert ecr.started == [] and result.scans[0].status == "ACTIVE"


@pytest.mark.parametrize("status", ["FAILED", "UNSUPPORTED_IMAGE", "FINDINGS_UNAVAILABLE"])
def test_a_failed_scan_is_an_error_naming_its_status(status: str) -> None:
    ecr = FakeEcr({AMD64: [answer(status)]})
    with pytest.raises(AwsError, match=f"ended {status}: status {status}"):
        run(ecr, Clock())


def test_a_scan_that_never_finishes_times_out_on_the_injected_clock() -> None:
    ecr, clock = FakeEcr({AMD64: [answer("IN_PROGRESS")]}), Clock()
    with pytest.raises(AwsError, match=r"did not finish within 60s \(status IN_PROGRESS\)"):
        run(ecr, clock)
    assert clock.now == 60.0 and len(clock.sleeps) == 12  # bounded by the timeout, not more
