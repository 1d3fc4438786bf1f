"""What a deploy shows while it runs: the deployments (or task sets) with their counts, and
the traffic weights; built from answers a look already has, so showing it costs no call.

A rolling deploy's board comes from DescribeServices' `deployments`; a blue/green deploy's
from the CodeDeploy ECS target's `taskSetsInfo` (AWS fills in the counts and status there;
the task definition is not in it, so that column is empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BoardRow:
    id: str  # the ECS deployment id, or the task set's id
    status: str  # PRIMARY / ACTIVE / DRAINING ..., or a task set's status
    task_definition: str  # family:revision ("" when the answer does not say)
    desired: int
    running: int
    pending: int
    rollout_state: str  # IN_PROGRESS / COMPLETED / FAILED; a task set's label (Blue, Green)


@dataclass(frozen=True)
class Board:
    rows: tuple[BoardRow, ...] = ()
    weights: tuple[tuple[str, float], ...] = ()  # (task set label, percent of traffic)


def short_task_definition(arn: str) -> str:
    """`family:revision` of a task definition ARN (the ARN's tail); anything else as is."""
    return arn.rsplit("task-definition/", 1)[-1]


def rolling_board(deployments: Sequence[Mapping[str, Any]]) -> Board:
    """The board of a rolling deploy: every deployment but the INACTIVE ones, as ECS lists
    them (the PRIMARY first)."""
    return Board(tuple(
        BoardRow(str(d.get("id", "?")), str(d.get("status", "")),
                 short_task_definition(str(d.get("taskDefinition", ""))),
                 int(d.get("desiredCount", 0)), int(d.get("runningCount", 0)),
                 int(d.get("pendingCount", 0)), str(d.get("rolloutState", "")))
        for d in deployments if d.get("status") != "INACTIVE"))


def blue_green_board(ecs_target: Mapping[str, Any] | None) -> Board:
    """The board of a blue/green deploy: its task sets and their traffic weights."""
    task_sets = (ecs_target or {}).get("taskSetsInfo", [])
    rows = tuple(
        # "identifer" is how CodeDeploy's API spells it
        BoardRow(str(t.get("identifer", t.get("identifier", "?"))), str(t.get("status", "")),
                 "", int(t.get("desiredCount", 0)), int(t.get("runningCount", 0)),
                 int(t.get("pendingCount", 0)), str(t.get("taskSetLabel", "")))
        for t in task_sets)
    weights = tuple((str(t.get("taskSetLabel", "?")), float(t.get("trafficWeight", 0)))
                    for t in task_sets)
    return Board(rows, weights)


def board_lines(board: Board) -> list[str]:
    """The board as log lines: one per deployment or task set, then the weights."""
    lines = []
    for row in board.rows:
        parts = [row.id, row.status, row.task_definition,
                 f"{row.running}/{row.desired} running", f"{row.pending} pending",
                 row.rollout_state]
        lines.append("  ".join(part for part in parts if part))
    if board.weights:
        lines.append("traffic: " + ", ".join(f"{label} {weight:g}%"
                                             for label, weight in board.weights))
    return lines
