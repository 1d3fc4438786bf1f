"""Blue/green deploys against a fake CodeDeploy: the checks before CreateDeployment, the
AppSpec it is given, and following a deployment to a truthful verdict (Ready, failures,
the timeout and Ctrl-C, CodeDeploy's own rollback deployment)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipyard.config import EnvironmentSettings
from shipyard.domain.appspec import build_appspec
from shipyard.errors import ConfigError, ConflictError, NotFoundError, UsageError
from shipyard.usecases.deploy.blue_green import (
    DeployInterrupted,
    follow_blue_green,
    plan_blue_green,
    previous_revision,
    start_blue_green,
)

ARN = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/gp-production:7"
OLD = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/gp-production:6"
ID = "d-ABCDEFGHI"


def settings(**changes: Any) -> EnvironmentSettings:
    values: dict[str, Any] = dict(
        cluster="gp", service="gp-production", task_definition=Path("td.json"),
        deployment="blue_green", container_name="web", container_port=8080,
        codedeploy_application="gp", codedeploy_group="gp-production",
        hooks={"AfterAllowTestTraffic": "smoke"})
    return EnvironmentSettings(**(values | changes))


def info(status: str, ident: str = ID, **more: Any) -> dict[str, Any]:
    return {"deploymentId": ident, "status": status, **more}


def target(events: dict[str, str], weights: tuple[int, int] = (100, 0),
           diagnostics: dict[str, str] | None = None) -> dict[str, Any]:
    lifecycle = [{"lifecycleEventName": name, "status": status} for name, status in
                 events.items()]
    if diagnostics:
        next(e for e in lifecycle if e["status"] == "Failed")["diagnostics"] = diagnostics
    return {"lifecycleEvents": lifecycle, "taskSetsInfo": [
        {"taskSetLabel": "Blue", "trafficWeight": weights[0]},
        {"taskSetLabel": "Green", "trafficWeight": weights[1]}]}


class FakeCodeDeploy:
    """Answers each look from a script: (deploymentInfo, ecsTarget) per GetDeployment, the
    last one repeating; after StopDeployment, from `after_stop`."""

    def __init__(self, script: list[tuple[dict[str, Any], dict[str, Any] | None]] = (),
                 after_stop: list[tuple[dict[str, Any], dict[str, Any] | None]] = ()) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.scripts = {ID: list(script)}
        self.after_stop = list(after_stop)
        self.current: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        self.group: dict[str, Any] | None = {
            "deploymentGroupName": "gp-production", "computePlatform": "ECS",
            "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
            "deploymentStyle": {"deploymentType": "BLUE_GREEN"},
            "ecsServices": [{"clusterName": "gp", "serviceName": "gp-production"}]}
        self.configs = {"CodeDeployDefault.ECSCanary10Percent5Minutes": {
            "computePlatform": "ECS"}, "CodeDeployDefault.OneAtATime": {
            "computePlatform": "Server"}}
        self.running: list[str] = []
        self.history: list[dict[str, Any]] = []
        # ContinueDeployment refused: the deployment left Ready since the last look
        self.left_ready = False

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        self.calls.append(("GetDeployment", deployment_id))
        script = self.scripts.get(deployment_id, [])
        if script:
            self.current[deployment_id] = script.pop(0) if len(script) > 1 else script[0]
        return dict(self.current.get(deployment_id, (info("InProgress", deployment_id),
                                                     None))[0])

    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None:
        self.calls.append(("GetDeploymentTarget", deployment_id))
        return self.current.get(deployment_id, ({}, None))[1]

    def deployment_group(self, application: str, group: str) -> dict[str, Any] | None:
        self.calls.append(("GetDeploymentGroup", application, group))
        return self.group

    def deployment_config(self, name: str) -> dict[str, Any] | None:
        self.calls.append(("GetDeploymentConfig", name))
        return self.configs.get(name)

    def deployment_ids(self, application: str, group: str, statuses: list[str],
                       limit: int = 50) -> list[str]:
        self.calls.append(("ListDeployments", tuple(statuses)))
        if statuses == ["Succeeded"]:
            return [str(i["deploymentId"]) for i in self.history]
        return self.running[:limit]

    def deployments(self, deployment_ids: list[str]) -> list[dict[str, Any]]:
        self.calls.append(("BatchGetDeployments", tuple(deployment_ids)))
        return [i for i in self.history if i["deploymentId"] in deployment_ids]

    def create_deployment(self, application: str, group: str, appspec: str, sha256: str,
                          deployment_config: str | None, description: str) -> str:
        self.calls.append(("CreateDeployment", application, group, appspec, sha256,
                           deployment_config, description))
        return ID

    def continue_deployment(self, deployment_id: str, wait_type: str = "READY_WAIT") -> bool:
        self.calls.append(("ContinueDeployment", deployment_id, wait_type))
        return not self.left_ready

    def stop_deployment(self, deployment_id: str, roll_back: bool = True) -> str | None:
        self.calls.append(("StopDeployment", deployment_id, roll_back))
        if self.after_stop:
            self.scripts[deployment_id] = list(self.after_stop)
        return "Pending"

    def named(self, call: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == call]


class Clock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self, interrupt_at: float | None = None) -> None:
        self.now = 0.0
        self.interrupt_at = interrupt_at

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds
        if self.interrupt_at is not None and self.now >= self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt


def follow(codedeploy: FakeCodeDeploy, clock: Clock | None = None, **options: Any):
    clock = clock or Clock()
    lines: list[str] = []
    options = {"timeout": 600.0, "approve_traffic": False, "leave_running": False} | options
    verdict = follow_blue_green(codedeploy, ID, clock=clock, sleep=clock.sleep,
                                report=lines.append, **options)
    return verdict, lines


# --- starting -------------------------------------------------------------------------------


def test_start_checks_then_creates_the_deployment_with_the_generated_appspec() -> None:
    codedeploy = FakeCodeDeploy()
    started = start_blue_green(codedeploy, settings(), ARN,
                               "CodeDeployDefault.ECSCanary10Percent5Minutes", "deploy 1.2.0")
    assert [c[0] for c in codedeploy.calls] == ["GetDeploymentGroup", "GetDeploymentConfig",
                                                 "ListDeployments", "CreateDeployment"]
    _, app, group, text, sha, config, description = codedeploy.named("CreateDeployment")[0]
    assert (app, group, config, description) == (
        "gp", "gp-production", "CodeDeployDefault.ECSCanary10Percent5Minutes", "deploy 1.2.0")
    assert yaml.safe_load(text) == build_appspec(settings(), ARN)  # `shipyard appspec`'s
    assert sha == hashlib.sha256(text.encode()).hexdigest() == started.appspec_sha256
    assert started.deployment_id == ID and started.appspec_text == text


def test_the_config_comes_from_the_flag_then_the_settings_then_the_group() -> None:
    codedeploy = FakeCodeDeploy()
    plan = plan_blue_green(codedeploy, settings(
        deployment_config="CodeDeployDefault.ECSCanary10Percent5Minutes"), ARN, None)
    assert plan.deployment_config == "CodeDeployDefault.ECSCanary10Percent5Minutes"
    plan = plan_blue_green(codedeploy, settings(), ARN, None)
    assert plan.deployment_config is None
    assert plan.config_shown == "CodeDeployDefault.ECSAllAtOnce (the group's)"


@pytest.mark.parametrize(("change", "error", "words"), [
    (lambda cd: setattr(cd, "group", None), NotFoundError, "does not exist"),
    (lambda cd: cd.group.update(computePlatform="Server"), ConfigError, "not an ECS blue/green"),
    (lambda cd: cd.group.update(ecsServices=[{"clusterName": "gp", "serviceName": "other"}]),
     ConfigError, "deploys other in gp, not service gp-production"),
    (lambda cd: cd.running.append("d-RUNNING01"), ConflictError,
     "deployment d-RUNNING01 of gp/gp-production is still InProgress"),
], ids=["no-group", "not-ecs", "other-service", "in-progress"])
def test_start_refuses_before_any_write(change, error, words) -> None:
    codedeploy = FakeCodeDeploy()
    change(codedeploy)
    with pytest.raises(error, match=words):
        start_blue_green(codedeploy, settings(), ARN, None, "deploy")
    assert not codedeploy.named("CreateDeployment")


@pytest.mark.parametrize(("flag", "configured", "error", "words"), [
    ("Nope", "", UsageError, "--deployment-config Nope: CodeDeploy has no such"),
    (None, "Nope", ConfigError, "deployment_config Nope: CodeDeploy has no such"),
    ("CodeDeployDefault.OneAtATime", "", UsageError, "is a config for Server, not ECS"),
])
def test_a_config_codedeploy_would_refuse_is_refused_first(flag, configured, error,
                                                           words) -> None:
    codedeploy = FakeCodeDeploy()
    with pytest.raises(error, match=words):
        start_blue_green(codedeploy, settings(deployment_config=configured), ARN, flag, "d")
    assert not codedeploy.named("CreateDeployment")


def test_an_environment_without_its_codedeploy_names_is_a_config_error() -> None:
    codedeploy = FakeCodeDeploy()
    with pytest.raises(ConfigError, match="codedeploy_application and codedeploy_group"):
        start_blue_green(codedeploy, settings(codedeploy_group=""), ARN, None, "d")
    assert codedeploy.calls == []


# --- following ------------------------------------------------------------------------------


def test_a_deployment_is_followed_event_by_event_to_success() -> None:
    codedeploy = FakeCodeDeploy([
        (info("Created"), None),
        (info("InProgress"), target({"BeforeInstall": "Succeeded", "Install": "InProgress"})),
        (info("InProgress"), target({"Install": "Succeeded", "AllowTraffic": "InProgress"},
                                    (90, 10))),
        (info("InProgress"), target({"AllowTraffic": "Succeeded"}, (0, 100))),
        (info("Succeeded"), target({"AllowTraffic": "Succeeded"}, (0, 100))),
    ])
    boards: list[Any] = []
    verdict, lines = follow(codedeploy, show=boards.append)
    assert verdict.state == "succeeded" and not verdict.rolled_back
    assert [board.weights for board in boards] == [
        (("Blue", 100.0), ("Green", 0.0)), (("Blue", 90.0), ("Green", 10.0)),
        (("Blue", 0.0), ("Green", 100.0))]  # the live view, each change once
    assert lines.index("Install: InProgress") < lines.index("traffic: Blue 90%, Green 10%") \
        < lines.index("traffic: Blue 0%, Green 100%")
    assert not codedeploy.named("StopDeployment")


def test_ready_waits_and_says_how_to_continue_without_approve_traffic() -> None:
    codedeploy = FakeCodeDeploy([(info("Ready"), target({"AllowTraffic": "InProgress"}))] * 4
                                + [(info("Stopped", errorInformation={
                                    "code": "TIMEOUT", "message": "ready wait timed out"}),
                                    None)])
    verdict, lines = follow(codedeploy)
    assert not codedeploy.named("ContinueDeployment")
    told = [line for line in lines if "waits for approval" in line]
    assert len(told) == 1 and f"--deployment-id {ID} --deployment-wait-type READY_WAIT" in \
        told[0]
    assert verdict.state == "failed" and "ready wait timed out" in verdict.reason


def test_ready_continues_once_with_approve_traffic() -> None:
    codedeploy = FakeCodeDeploy([(info("Ready"), None)] * 3 + [(info("Succeeded"), None)])
    verdict, lines = follow(codedeploy, approve_traffic=True)
    assert codedeploy.named("ContinueDeployment") == [("ContinueDeployment", ID, "READY_WAIT")]
    assert verdict.state == "succeeded"
    assert any("traffic approved" in line for line in lines)


def test_a_deployment_that_left_ready_before_the_approval_is_followed_to_its_end() -> None:
    # stopped by someone else between our look and ContinueDeployment: CodeDeploy refuses the
    # approval, and the follow goes on to say how the deployment ended
    codedeploy = FakeCodeDeploy([(info("Ready"), None), (info("Stopped", errorInformation={
        "code": "MANUAL_STOP", "message": "stopped by a user"}), None)])
    codedeploy.left_ready = True
    verdict, lines = follow(codedeploy, approve_traffic=True)
    assert len(codedeploy.named("ContinueDeployment")) == 1
    assert verdict.state == "failed" and "stopped by a user" in verdict.reason
    assert not any("traffic approved" in line for line in lines)


def test_a_deployment_we_stopped_is_neither_approved_nor_announced_at_ready() -> None:
    # `shipyard rollback` stops a deployment waiting at Ready; looks may still see Ready
    codedeploy = FakeCodeDeploy([(info("Ready"), None)] * 2 + [(info("Stopped", rollbackInfo={
        "rollbackMessage": "rolled back"}), None)])
    verdict, lines = follow(codedeploy, approve_traffic=True, stopping=True)
    assert not codedeploy.named("ContinueDeployment")
    assert not any("traffic approved" in line or "approve it with" in line for line in lines)
    assert verdict.state == "failed" and verdict.rolled_back


def test_a_failed_hook_s_own_message_is_in_the_verdict() -> None:
    failed = target({"BeforeInstall": "Succeeded", "AfterAllowTestTraffic": "Failed"},
                    diagnostics={"errorCode": "ScriptFailed", "message": "smoke: /version "
                                 "answered 1.1.0, not 1.2.0", "logTail": "GET /version\n1.1.0"})
    codedeploy = FakeCodeDeploy([(info("InProgress"), None), (info(
        "Failed", errorInformation={"code": "HOOK_EXECUTION_FAILURE",
                                    "message": "The AfterAllowTestTraffic hook failed."},
        rollbackInfo={"rollbackMessage": "Rolled back"}), failed)])
    verdict, lines = follow(codedeploy)
    assert verdict.state == "failed" and verdict.rolled_back
    assert "The AfterAllowTestTraffic hook failed." in verdict.reason
    assert "AfterAllowTestTraffic failed: smoke: /version answered 1.1.0, not 1.2.0 " \
        "(ScriptFailed)" in verdict.reason
    assert "  1.1.0" in lines


def test_the_timeout_stops_with_rollback_and_follows_to_the_true_end() -> None:
    codedeploy = FakeCodeDeploy(
        [(info("InProgress"), target({"AllowTraffic": "InProgress"}, (90, 10)))],
        after_stop=[(info("InProgress"), None), (info(
            "Stopped", errorInformation={"code": "MANUAL_STOP", "message": "stopped by user"},
            rollbackInfo={"rollbackMessage": "Rolled back"}), None)])
    clock = Clock()
    verdict, lines = follow(codedeploy, clock, timeout=30.0)
    assert codedeploy.named("StopDeployment") == [("StopDeployment", ID, True)]
    assert verdict.state == "failed" and verdict.rolled_back
    assert verdict.reason.startswith("timed out after 30s")
    assert "stopped and was rolled back: stopped by user" in verdict.reason
    assert any(line.endswith(f"stopping deployment {ID} with rollback") for line in lines)


def test_the_timeout_with_leave_running_stops_nothing() -> None:
    codedeploy = FakeCodeDeploy([(info("InProgress"), None)])
    verdict, _ = follow(codedeploy, timeout=10.0, leave_running=True)
    assert not codedeploy.named("StopDeployment")
    assert verdict.state == "failed" and "left running (--leave-running)" in verdict.reason


def test_a_stop_that_does_not_end_is_not_called_a_rollback() -> None:
    codedeploy = FakeCodeDeploy([(info("InProgress"), None)])  # still InProgress forever
    verdict, _ = follow(codedeploy, timeout=10.0)
    assert codedeploy.named("StopDeployment")
    assert verdict.state == "failed" and not verdict.rolled_back
    assert "had not ended 300s later" in verdict.reason


def test_ctrl_c_stops_with_rollback_then_raises_with_the_verdict() -> None:
    codedeploy = FakeCodeDeploy(
        [(info("InProgress"), None)],
        after_stop=[(info("Stopped", errorInformation={"message": "stopped by user"},
                          rollbackInfo={"rollbackMessage": "Rolled back"}), None)])
    with pytest.raises(DeployInterrupted) as raised:
        follow(codedeploy, Clock(interrupt_at=5.0))
    assert isinstance(raised.value, KeyboardInterrupt)
    assert codedeploy.named("StopDeployment") == [("StopDeployment", ID, True)]
    assert raised.value.verdict.rolled_back
    assert raised.value.verdict.reason.startswith("interrupted (Ctrl-C); deployment")


def test_ctrl_c_with_leave_running_stops_nothing_and_still_raises() -> None:
    codedeploy = FakeCodeDeploy([(info("InProgress"), None)])
    with pytest.raises(DeployInterrupted, match="left running"):
        follow(codedeploy, Clock(interrupt_at=5.0), leave_running=True)
    assert not codedeploy.named("StopDeployment")


def test_codedeploy_s_own_rollback_deployment_is_followed_too() -> None:
    codedeploy = FakeCodeDeploy([(info("Failed", errorInformation={"message": "alarm"},
                                       rollbackInfo={"rollbackDeploymentId": "d-ROLLBACK1"}),
                                  None)])
    codedeploy.scripts["d-ROLLBACK1"] = [(info("InProgress", "d-ROLLBACK1"), None),
                                         (info("Succeeded", "d-ROLLBACK1"), None)]
    verdict, _ = follow(codedeploy)
    assert verdict.state == "failed" and verdict.rolled_back
    assert "rollback deployment d-ROLLBACK1 succeeded" in verdict.reason
    codedeploy.scripts["d-ROLLBACK1"] = [(info("Failed", "d-ROLLBACK1"), None)]
    codedeploy.scripts[ID] = [(info("Failed", rollbackInfo={
        "rollbackDeploymentId": "d-ROLLBACK1"}), None)]
    verdict, _ = follow(codedeploy)
    assert not verdict.rolled_back and "did not succeed" in verdict.reason


# --- what to roll back to -------------------------------------------------------------------


def deployed(ident: str, arn: str, created: str) -> dict[str, Any]:
    text = yaml.safe_dump(build_appspec(settings(), arn))
    return {"deploymentId": ident, "status": "Succeeded", "createTime": created,
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": text}}}


def test_the_previous_revision_is_the_last_success_with_another_task_definition() -> None:
    codedeploy = FakeCodeDeploy()
    codedeploy.history = [
        deployed("d-00000000A", OLD, "2026-11-01T10:00:00+00:00"),
        deployed("d-00000000C", ARN, "2026-11-03T10:00:00+00:00"),
        deployed("d-00000000B", ARN, "2026-11-02T10:00:00+00:00"),  # a redeploy of the same
        {"deploymentId": "d-00000000S", "status": "Succeeded", "createTime":
         "2026-11-02T12:00:00+00:00", "revision": {"revisionType": "S3"}},
    ]
    found = previous_revision(codedeploy, settings())
    assert found is not None
    assert (found.deployment_id, found.task_definition) == ("d-00000000A", OLD)
    assert (found.current_deployment_id, found.current_task_definition) == ("d-00000000C", ARN)
    assert f"TaskDefinition: {OLD}" in found.appspec_text


def test_there_is_no_previous_revision_after_a_single_version() -> None:
    codedeploy = FakeCodeDeploy()
    codedeploy.history = [deployed("d-00000000A", ARN, "2026-11-01T10:00:00+00:00")]
    assert previous_revision(codedeploy, settings()) is None
    codedeploy.history = []
    assert previous_revision(codedeploy, settings()) is None


class Timed(FakeCodeDeploy):
    """A deployment InProgress until `ends_at` on `clock`, then Succeeded; its target says
    the same (as CodeDeploy's ECS target does)."""

    def __init__(self, clock: Clock, ends_at: float) -> None:
        super().__init__()
        self.clock, self.ends_at = clock, ends_at

    def _status(self) -> str:
        return "Succeeded" if self.clock() >= self.ends_at else "InProgress"

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        self.calls.append(("GetDeployment", deployment_id))
        return info(self._status())

    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None:
        self.calls.append(("GetDeploymentTarget", deployment_id))
        status = self._status()
        return target({"AllowTraffic": status}) | {"status": status}


def test_following_costs_about_one_call_a_second_and_sees_the_end_within_2_s() -> None:
    clock = Clock()
    codedeploy = Timed(clock, ends_at=300.0)
    verdict, _ = follow(codedeploy, clock)
    assert verdict.state == "succeeded"
    assert clock.now - 300.0 <= 2.0  # seen within 2 s of the end
    assert len(codedeploy.calls) <= clock.now  # on average at most one call a second
    # the deployment itself is read when its target moves, else every REFRESH seconds
    assert len(codedeploy.named("GetDeployment")) <= 300 / 5 + 2
