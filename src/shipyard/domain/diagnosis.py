"""`shipyard doctor`'s checklist: each check's outcome, and for a warning or a failure the
cause and the fix, in one line each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "skipped"]


@dataclass(frozen=True)
class Check:
    """One check: `detail` says what was found (or why it was skipped); `fix` what to do,
    for a warning or a failure."""

    group: str
    name: str
    status: Status
    detail: str
    fix: str = ""
    evidence: tuple[str, ...] = ()  # what was found, line by line: events, log lines

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "name": self.name, "status": self.status,
                "detail": self.detail, "fix": self.fix, "evidence": list(self.evidence)}


@dataclass
class Diagnosis:
    """Every check run, in order."""

    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.status == "fail"]

    def counts(self) -> dict[str, int]:
        counts = {"ok": 0, "warn": 0, "fail": 0, "skipped": 0}
        for check in self.checks:
            counts[check.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {"passed": not self.failed, "counts": self.counts(),
                "checks": [check.to_json() for check in self.checks]}


def cause_and_fix(message: str, fallback: str) -> tuple[str, str]:
    """A Shipyard error message ("what is wrong; how to fix it") as a check's detail and fix;
    `fallback` is the fix when the message names none."""
    cause, separator, fix = message.partition("; ")
    return (cause, fix) if separator and fix else (message, fallback)


class Group:
    """The checks of one group, added as they run; a failure can skip the rest of a group."""

    def __init__(self, name: str, diagnosis: Diagnosis) -> None:
        self.name, self._diagnosis = name, diagnosis

    def ok(self, name: str, detail: str, evidence: tuple[str, ...] = ()) -> None:
        self._add(Check(self.name, name, "ok", detail, "", evidence))

    def warn(self, name: str, detail: str, fix: str, evidence: tuple[str, ...] = ()) -> None:
        self._add(Check(self.name, name, "warn", detail, fix, evidence))

    def fail(self, name: str, detail: str, fix: str, evidence: tuple[str, ...] = ()) -> None:
        self._add(Check(self.name, name, "fail", detail, fix, evidence))

    def failed(self, name: str, error_message: str, fallback_fix: str) -> None:
        """A failure from an error's message, its own fix preferred to `fallback_fix`."""
        self.fail(name, *cause_and_fix(error_message, fallback_fix))

    def skip(self, name: str, why: str) -> None:
        self._add(Check(self.name, name, "skipped", why))

    def _add(self, check: Check) -> None:
        self._diagnosis.checks.append(check)
