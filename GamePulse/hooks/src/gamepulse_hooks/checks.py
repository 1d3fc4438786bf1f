"""What a hook found: one line per check, and whether any failed."""

from __future__ import annotations

from dataclasses import dataclass, field


class CheckFailed(Exception):
    """A check that cannot go on (the deployment or its task definition cannot be read)."""


@dataclass
class Findings:
    """The lines a hook prints and reports, in order; `failed` counts the failed checks."""

    lines: list[str] = field(default_factory=list)
    failed: int = 0

    def ok(self, line: str) -> None:
        self.lines.append(f"ok: {line}")

    def fail(self, line: str) -> None:
        self.lines.append(f"FAILED: {line}")
        self.failed += 1

    def note(self, line: str) -> None:
        """Something not checked, and why: never a failure."""
        self.lines.append(f"not checked: {line}")

    def check(self, passed: bool, line: str) -> bool:
        (self.ok if passed else self.fail)(line)
        return passed
