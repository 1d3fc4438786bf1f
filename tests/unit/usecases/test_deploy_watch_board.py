"""The looks hand the board to a view when it changes, from the answer they already read."""

from __future__ import annotations

from typing import Any

from shipyard.domain.board import Board
from shipyard.usecases.deploy.watch import blue_green_look, rolling_look, watch


class Service:
    """A service read three times: 1 of 2 running, then 2 of 2 twice (no change), then done."""

    def __init__(self) -> None:
        self.reads = 0

    def service(self, cluster: str, name: str) -> dict[str, Any]:
        self.reads += 1
        running = 1 if self.reads == 1 else 2
        rollout = "COMPLETED" if self.reads >= 3 else "IN_PROGRESS"
        return {"events": [], "deployments": [
            {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "api:7",
             "desiredCount": 2, "runningCount": running, "rolloutState": rollout}]}


def test_the_rolling_look_shows_each_new_board_once_and_costs_no_read() -> None:
    ecs, boards = Service(), []
    now = [0.0]
    verdict = watch(rolling_look(ecs, "c", "api", "ecs-svc/2", show=boards.append),
                    timeout=60, clock=lambda: now[0],
                    sleep=lambda s: now.__setitem__(0, now[0] + s), report=lambda _: None)
    assert verdict.state == "succeeded" and ecs.reads == 3
    assert [(b.rows[0].running, b.rows[0].rollout_state) for b in boards] == [
        (1, "IN_PROGRESS"), (2, "IN_PROGRESS"), (2, "COMPLETED")]


class Deployment:
    def __init__(self, weights: list[float]) -> None:
        self.weights = weights

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        return {"deploymentId": deployment_id, "status": "InProgress"}

    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None:
        green = self.weights.pop(0)
        return {"lifecycleEvents": [], "taskSetsInfo": [
            {"identifer": "a", "taskSetLabel": "Blue", "trafficWeight": 100 - green},
            {"identifer": "b", "taskSetLabel": "Green", "trafficWeight": green}]}


def test_the_blue_green_look_shows_the_weights_as_they_shift() -> None:
    boards: list[Board] = []
    look = blue_green_look(Deployment([0.0, 50.0, 50.0, 100.0]), "d-1", show=boards.append)
    news = [look()[1] for _ in range(4)]
    assert [b.weights for b in boards] == [(("Blue", 100.0), ("Green", 0.0)),
                                          (("Blue", 50.0), ("Green", 50.0)),
                                          (("Blue", 0.0), ("Green", 100.0))]
    assert news[1] == ["traffic: Blue 50%, Green 50%"] and news[2] == []
