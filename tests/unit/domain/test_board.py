"""The deploy's board, built from the answers a look already has."""

from __future__ import annotations

from shipyard.domain.board import (
    Board,
    BoardRow,
    blue_green_board,
    board_lines,
    rolling_board,
)


def test_a_rolling_board_lists_the_live_deployments_with_their_counts() -> None:
    board = rolling_board([
        {"id": "ecs-svc/2", "status": "PRIMARY", "rolloutState": "IN_PROGRESS",
         "taskDefinition": "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/api:7",
         "desiredCount": 2, "runningCount": 1, "pendingCount": 1},
        {"id": "ecs-svc/1", "status": "ACTIVE", "rolloutState": "COMPLETED",
         "taskDefinition": "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/api:6",
         "desiredCount": 1, "runningCount": 2},
        {"id": "ecs-svc/0", "status": "INACTIVE", "taskDefinition": "api:5"},
    ])
    assert board == Board((BoardRow("ecs-svc/2", "PRIMARY", "api:7", 2, 1, 1, "IN_PROGRESS"),
                           BoardRow("ecs-svc/1", "ACTIVE", "api:6", 1, 2, 0, "COMPLETED")))


def test_a_blue_green_board_has_the_task_sets_and_the_weights() -> None:
    board = blue_green_board({"taskSetsInfo": [
        {"identifer": "ecs-svc/a", "status": "PRIMARY", "desiredCount": 2,
         "runningCount": 2, "pendingCount": 0, "trafficWeight": 90.0, "taskSetLabel": "Blue"},
        {"identifer": "ecs-svc/b", "status": "ACTIVE", "desiredCount": 2, "runningCount": 1,
         "pendingCount": 1, "trafficWeight": 10.0, "taskSetLabel": "Green"}]})
    assert board.rows[1] == BoardRow("ecs-svc/b", "ACTIVE", "", 2, 1, 1, "Green")
    assert board.weights == (("Blue", 90.0), ("Green", 10.0))
    assert board_lines(board) == ["ecs-svc/a  PRIMARY  2/2 running  0 pending  Blue",
                                  "ecs-svc/b  ACTIVE  1/2 running  1 pending  Green",
                                  "traffic: Blue 90%, Green 10%"]


def test_no_target_yet_is_an_empty_board() -> None:
    assert blue_green_board(None) == Board()
    assert board_lines(Board()) == []
