"""What provisioning made: one outcome per logical resource; the error it raises."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shipyard_sandbox.control import SandboxError


class ProvisionError(SandboxError):
    """The template's resources could not be created in the sandbox."""


@dataclass(frozen=True)
class ResourceOutcome:
    """How one logical resource came to exist in the sandbox."""

    logical_id: str
    type: str
    method: str  # "stack", "api" or "skipped"
    state: str  # "created", "exists" or "skipped"
    physical_id: str = ""
    detail: str = ""  # the stack, what moto leaves out, or why it was skipped


@dataclass
class ProvisionReport:
    """Every logical resource of the template (and the network made for it), in creation order."""

    stacks: list[str] = field(default_factory=list)
    resources: list[ResourceOutcome] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Account-level settings the template's metadata asked for: not resources of the stack.
    settings: list[ResourceOutcome] = field(default_factory=list)

    def outcome(self, logical_id: str) -> ResourceOutcome:
        return next(r for r in [*self.resources, *self.settings] if r.logical_id == logical_id)

    def record(self, logical_id: str, kind: str, method: str, state: str, physical: str,
               detail: str) -> None:
        self.resources.append(ResourceOutcome(logical_id, kind, method, state, physical, detail))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """One line per resource: logical id, type, method, state, physical id, detail."""
        rows = [(r.logical_id, r.type, r.method, r.state, r.physical_id, r.detail)
                for r in [*self.resources, *self.settings]]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
        return ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
                + f"  {row[4]}" + (f"  ({row[5]})" if row[5] else "") for row in rows]
