"""The blue/green state machine against a fake platform, with time scaled to milliseconds."""

from __future__ import annotations

import threading

import pytest

from shipyard_sandbox import timescale
from shipyard_sandbox.codedeploy.configs import PREDEFINED_ECS, TrafficRouting
from shipyard_sandbox.codedeploy.engine import LIFECYCLE, DeploymentRun, DeploymentSpec

BLUE, GREEN, PROD, TEST = "tg/blue", "tg/green", "listener/prod", "listener/test"


class FakePlatform:
    """Records every call; hooks answer as `hook_answers` says (None: never)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.task_set_states = ["PENDING", "HEALTHY"]
        self.hook_answers: dict[str, str | None] = {}
        self.firing: list[str] = []
        self.run: DeploymentRun | None = None

    def create_task_set(self, spec):
        self.calls.append(("create_task_set", spec.task_definition))
        return "ts/green"

    def task_set_state(self, task_set):
        return self.task_set_states.pop(0) if len(self.task_set_states) > 1 else \
            self.task_set_states[0]

    def route(self, listener, weights):
        self.calls.append(("route", listener, weights))

    def promote(self, spec, task_set):
        self.calls.append(("promote", task_set))

    def delete_task_set(self, spec, task_set):
        self.calls.append(("delete_task_set", task_set))

    def invoke_hook(self, function, payload):
        self.calls.append(("hook", function))
        answer = self.hook_answers.get(function, "Succeeded")
        if answer is not None:  # as a Lambda would: on its own thread, a little later
            threading.Timer(0.01, self.run.put_hook_status,
                            [payload["LifecycleEventHookExecutionId"], answer]).start()

    def alarms_in_alarm(self, names):
        return [name for name in names if name in self.firing]


@pytest.fixture(autouse=True)
def _fast() -> None:
    before = timescale.factor()
    timescale.set_factor(6000)  # a 5-minute canary takes 50 ms, an hour's hook timeout 0.6 s
    yield
    timescale.set_factor(before)


def _spec(routing: TrafficRouting = PREDEFINED_ECS["CodeDeployDefault.ECSAllAtOnce"],
          **changes) -> DeploymentSpec:
    hooks = {name: f"hook-{name}" for name in ("BeforeInstall", "AfterInstall",
                                                "AfterAllowTestTraffic", "BeforeAllowTraffic",
                                                "AfterAllowTraffic")}
    spec = DeploymentSpec("c", "s", "td:2", "app", 8000, "ts/blue", BLUE, GREEN, PROD, TEST,
                          routing, hooks=hooks)
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


def _run(platform: FakePlatform, spec: DeploymentSpec, act=None) -> DeploymentRun:
    run = DeploymentRun("d-TEST12345", spec, platform)
    platform.run = run
    run.start()
    if act:
        act(run)
    run.join(timeout=10)
    assert run.status in ("Succeeded", "Failed", "Stopped"), run.status
    return run


def test_a_deployment_runs_every_step_in_codedeploys_order() -> None:
    platform = FakePlatform()
    run = _run(platform, _spec())
    assert run.status == "Succeeded" and run.error is None
    assert [e.name for e in run.events] == list(LIFECYCLE)
    assert all(e.status == "Succeeded" for e in run.events)
    names = [c[0] if c[0] != "hook" else c[1] for c in platform.calls]
    assert names == ["hook-BeforeInstall", "create_task_set", "hook-AfterInstall", "route",
                     "hook-AfterAllowTestTraffic", "hook-BeforeAllowTraffic", "route", "promote",
                     "hook-AfterAllowTraffic", "delete_task_set"]
    assert ("route", TEST, {GREEN: 100}) in platform.calls
    assert ("route", PROD, {BLUE: 0, GREEN: 100}) in platform.calls
    assert platform.calls[-1] == ("delete_task_set", "ts/blue")


@pytest.mark.parametrize("name", ["CodeDeployDefault.ECSCanary10Percent5Minutes",
                                  "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"])
def test_production_weights_shift_in_the_configs_steps(name: str) -> None:
    platform = FakePlatform()
    routing = PREDEFINED_ECS[name]
    _run(platform, _spec(routing))
    shifts = [c[2][GREEN] for c in platform.calls if c[0] == "route" and c[1] == PROD]
    assert shifts == [share for _, share in routing.shifts()]


def test_a_failed_hook_rolls_back_when_the_group_asks() -> None:
    platform = FakePlatform()
    platform.hook_answers["hook-AfterAllowTestTraffic"] = "Failed"
    run = _run(platform, _spec(rollback_on_failure=True))
    assert run.status == "Failed" and run.error["code"] == "HOOK_EXECUTION_FAILURE"
    statuses = {e.name: e.status for e in run.events}
    assert statuses["AfterAllowTestTraffic"] == "Failed"
    assert statuses["AllowTraffic"] == "Skipped"
    assert run.rolled_back and ("delete_task_set", "ts/green") in platform.calls
    assert ("route", PROD, {BLUE: 100}) in platform.calls
    assert ("route", TEST, {BLUE: 100}) in platform.calls


def test_without_rollback_a_failure_leaves_things_where_they_are() -> None:
    platform = FakePlatform()
    platform.hook_answers["hook-BeforeAllowTraffic"] = "Failed"
    run = _run(platform, _spec(rollback_on_failure=False))
    assert run.status == "Failed" and not run.rolled_back
    assert ("delete_task_set", "ts/green") not in platform.calls


def test_a_hook_that_never_reports_times_out() -> None:
    platform = FakePlatform()
    platform.hook_answers["hook-BeforeInstall"] = None
    run = _run(platform, _spec(rollback_on_failure=True))
    assert run.status == "Failed" and "timeout" in run.error["message"]
    assert ("create_task_set", "td:2") not in platform.calls


def test_a_replacement_that_never_becomes_healthy_fails_the_install() -> None:
    platform = FakePlatform()
    platform.task_set_states = ["PENDING", "FAILED: Task failed ELB health checks"]
    run = _run(platform, _spec(rollback_on_failure=True))
    assert run.error["code"] == "ECS_UPDATE_ERROR" and "ELB health checks" in \
        run.error["message"]
    assert ("delete_task_set", "ts/green") in platform.calls


def test_an_alarm_stops_the_deployment_during_the_canary_and_rolls_back() -> None:
    platform = FakePlatform()
    spec = _spec(PREDEFINED_ECS["CodeDeployDefault.ECSCanary10Percent15Minutes"],
                 alarms=["prod-5xx"], rollback_on_alarm=True)

    def alarm_once_canary_shifted(run: DeploymentRun) -> None:
        for _ in range(500):  # bounded: 5 s
            if run.weights[GREEN] == 10:
                platform.firing.append("prod-5xx")
                return
            threading.Event().wait(0.01)

    run = _run(platform, spec, alarm_once_canary_shifted)
    assert run.status == "Stopped" and run.error["code"] == "ALARM_ACTIVE"
    assert "prod-5xx" in run.error["message"] and run.rolled_back
    assert [c[2] for c in platform.calls if c[0] == "route" and c[1] == PROD][-1] == {BLUE: 100}


def test_stop_deployment_with_rollback() -> None:
    platform = FakePlatform()
    platform.hook_answers["hook-AfterAllowTestTraffic"] = None  # waits: time to stop it
    run = _run(platform, _spec(), lambda run: (threading.Event().wait(0.05),
                                               run.stop(roll_back=True)))
    assert run.status == "Stopped" and run.error["code"] == "MANUAL_STOP" and run.rolled_back


def test_the_ready_wait_holds_traffic_until_continue() -> None:
    platform = FakePlatform()
    spec = _spec(ready_wait_minutes=600)  # 6 s scaled: the test continues long before

    def continue_when_waiting(run: DeploymentRun) -> None:
        for _ in range(500):
            if next(e for e in run.events if e.name == "AllowTraffic").status == "InProgress":
                break
            threading.Event().wait(0.01)
        assert not any(c[0] == "route" and c[1] == PROD for c in platform.calls)
        run.continue_deployment("READY_WAIT")

    run = _run(platform, spec, continue_when_waiting)
    assert run.status == "Succeeded"


def test_a_ready_wait_that_runs_out_fails_the_deployment() -> None:
    platform = FakePlatform()
    run = _run(platform, _spec(ready_wait_minutes=1, rollback_on_failure=True))
    assert run.status == "Failed" and run.error["code"] == "TIMEOUT"
    assert not any(c[0] == "route" and c[1] == PROD and c[2].get(GREEN) for c in platform.calls)


def test_a_group_without_hooks_skips_their_events() -> None:
    run = _run(FakePlatform(), _spec(hooks={}))
    assert {e.name: e.status for e in run.events}["BeforeInstall"] == "Skipped"
    assert run.status == "Succeeded"


def test_a_deployment_is_ready_while_it_waits_for_continue() -> None:
    platform = FakePlatform()
    spec = _spec(ready_wait_minutes=600)
    statuses = []

    def continue_when_ready(run: DeploymentRun) -> None:
        for _ in range(500):
            if run.status == "Ready":
                break
            threading.Event().wait(0.01)
        statuses.append(run.status)
        run.continue_deployment("READY_WAIT")

    run = _run(platform, spec, continue_when_ready)
    assert statuses == ["Ready"]
    assert run.status == "Succeeded"
