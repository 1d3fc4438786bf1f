"""Deployment verdicts judged by our own deployment's id, and the pause between looks."""

from __future__ import annotations

import pytest

from shipyard.domain.deployment import PollSchedule, blue_green_verdict, rolling_verdict

OURS = "ecs-svc/2"


def _deployment(ident: str, status: str, rollout: str, running: int = 2, desired: int = 2,
                reason: str = "") -> dict:
    return {"id": ident, "status": status, "rolloutState": rollout, "runningCount": running,
            "desiredCount": desired, "rolloutStateReason": reason,
            "taskDefinition": f"td:{ident[-1]}"}


def test_ours_completed_and_running_is_a_success() -> None:
    verdict = rolling_verdict([_deployment(OURS, "PRIMARY", "COMPLETED")], OURS)
    assert verdict.state == "succeeded" and verdict.done


def test_a_circuit_breaker_rollback_is_a_failure_though_the_service_is_stable() -> None:
    # the rollback's deployment is PRIMARY and COMPLETED: a "services-stable" waiter says OK
    deployments = [_deployment("ecs-svc/3", "PRIMARY", "COMPLETED"),
                   _deployment(OURS, "ACTIVE", "FAILED", reason="ECS deployment circuit "
                               "breaker: tasks failed to start.")]
    verdict = rolling_verdict(deployments, OURS)
    assert verdict.state == "failed" and "circuit breaker: tasks failed to start" in \
        verdict.reason


def test_another_deployment_taking_over_is_a_failure() -> None:
    deployments = [_deployment("ecs-svc/3", "PRIMARY", "IN_PROGRESS"),
                   _deployment(OURS, "ACTIVE", "IN_PROGRESS")]
    verdict = rolling_verdict(deployments, OURS)
    assert verdict.state == "failed" and "ecs-svc/3 (td:3) took over" in verdict.reason


def test_ours_gone_is_a_failure() -> None:
    verdict = rolling_verdict([_deployment("ecs-svc/1", "PRIMARY", "COMPLETED")], OURS)
    assert verdict.state == "failed" and "gone from the service" in verdict.reason


@pytest.mark.parametrize(("deployment", "healthy"), [
    (_deployment(OURS, "PRIMARY", "IN_PROGRESS", running=1), None),
    (_deployment(OURS, "PRIMARY", "COMPLETED", running=1), None),  # not all running yet
    (_deployment(OURS, "PRIMARY", "COMPLETED"), False),  # targets not healthy yet
])
def test_not_yet(deployment, healthy) -> None:
    assert rolling_verdict([deployment], OURS, healthy).state == "in_progress"


@pytest.mark.parametrize(("info", "state", "words"), [
    ({"deploymentId": "d-1", "status": "Succeeded"}, "succeeded", "succeeded"),
    ({"deploymentId": "d-1", "status": "Failed", "errorInformation": {
        "code": "HOOK_EXECUTION_FAILURE", "message": "The AfterInstall hook x reported Failed."},
      "rollbackInfo": {"rollbackMessage": "Rolled back"}}, "failed",
     "failed and was rolled back: The AfterInstall hook x reported Failed."),
    ({"deploymentId": "d-1", "status": "Stopped", "errorInformation": {"code": "MANUAL_STOP"}},
     "failed", "stopped: MANUAL_STOP"),
    ({"deploymentId": "d-1", "status": "Ready"}, "in_progress", "approved"),
    ({"deploymentId": "d-1", "status": "InProgress"}, "in_progress", "InProgress"),
])
def test_blue_green_verdicts(info, state, words) -> None:
    verdict = blue_green_verdict(info)
    assert verdict.state == state and words in verdict.reason


def test_polling_is_quick_after_a_change_slower_while_quiet_and_never_over_2s() -> None:
    now = [0.0]
    schedule = PollSchedule(lambda: now[0])
    pauses = []
    for changed in [True, False, False, False, False, False, True]:
        pause = schedule.next_pause(changed)
        pauses.append(pause)
        now[0] += pause + 0.05  # each look itself takes 50 ms
    assert pauses[0] == 1.0  # the first look already spent the budget's first second
    assert max(pauses) <= PollSchedule.LATEST
    assert pauses[2:6] == sorted(pauses[2:6]) and pauses[5] == PollSchedule.SLOWEST
    assert pauses[6] == PollSchedule.FASTEST  # a change after a quiet spell: look again soon


def test_polling_keeps_to_one_look_a_second_on_average() -> None:
    now = [0.0]
    schedule = PollSchedule(lambda: now[0])
    looks = 0
    while now[0] < 60:  # bounded: a minute of looks that each see a change
        now[0] += schedule.next_pause(changed=True) + 0.01
        looks += 1
    assert looks <= 61


def test_the_budget_counts_calls_when_a_look_costs_more_than_one() -> None:
    now = [0.0]
    schedule = PollSchedule(lambda: now[0])
    calls = 0
    for _ in range(60):  # busy looks of two calls each: every one sees a change
        calls += 2
        now[0] += schedule.next_pause(True, calls)
    assert calls / now[0] <= 1.0 + 2 / now[0]  # one call a second, the first look aside
