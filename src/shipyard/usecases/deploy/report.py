"""What a deploy or rollback tells the world: one record, for the notifications, the metrics,
the job summary and `--json` alike, so that they can never disagree with one another."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DeployReport:
    command: str  # "deploy" or "rollback"
    environment: str
    service: str
    cluster: str
    strategy: str  # "rolling" | "blue_green"
    outcome: str  # "started" | "succeeded" | "failed"
    version: str  # "" when unknown
    image: str  # REPO@sha256:... (digest-pinned)
    task_definition: str  # ARN
    deployment_id: str  # ECS deployment id or CodeDeploy d-XXXX ("" before start)
    duration: float  # seconds since the command began its first write
    reason: str  # the verdict's reason ("" at start)
    rolled_back: bool = False

    def to_json(self) -> str:
        """The report as one JSON object (the keys are the field names)."""
        return json.dumps(asdict(self), sort_keys=True)
