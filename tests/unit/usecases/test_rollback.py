"""`shipyard rollback` against fake ECS and CodeDeploy: what it rolls back to, the one write it
makes, the truthful wait, and that it never deregisters anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard.config import Config, EnvironmentSettings
from shipyard.errors import ApprovalError, ConfigError, DeploymentError, NotFoundError
from shipyard.usecases.context import Context
from shipyard.usecases.deploy.rollback import (
    REDEPLOY,
    STOP,
    RollbackOptions,
    plan_rollback,
    redeploy_previous_blue_green,
    rollback,
    run_rollback,
)

PREFIX = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/"
V1, V2, V3 = (f"{PREFIX}gp:{n}" for n in (1, 2, 3))


def td(arn: str) -> dict[str, Any]:
    return {"taskDefinitionArn": arn, "revision": int(arn.rsplit(":", 1)[1]),
            "containerDefinitions": [{"name": "web", "image": "quay.invalid/gp:1"}]}


def deployment(ident: str, arn: str, status: str, rollout: str, created: str,
               running: int = 2) -> dict[str, Any]:
    return {"id": ident, "taskDefinition": arn, "status": status, "rolloutState": rollout,
            "createdAt": created, "desiredCount": 2, "runningCount": running}


class FakeEcs:
    """A rolling service: its deployments as given; after UpdateService, a new PRIMARY
    deployment that completes (or fails) after `looks` reads of the service."""

    def __init__(self, deployments: list[dict[str, Any]], revisions: list[str] = (),
                 controller: str = "ECS", outcome: str = "COMPLETED", looks: int = 2,
                 **extra: Any) -> None:
        self.deployments, self.revisions = deployments, list(revisions)
        self.controller, self.outcome, self.looks, self.extra = controller, outcome, looks, extra
        self.calls: list[tuple[Any, ...]] = []
        self.exists = True

    def service(self, cluster: str, name: str) -> dict[str, Any] | None:
        self.calls.append(("service",))
        if not self.exists:
            return None
        new = next((d for d in self.deployments if d["id"] == "ecs-svc/new"), None)
        if new is not None:
            self.looks -= 1
            if self.looks <= 0:
                new["rolloutState"] = self.outcome
                new["runningCount"] = 2 if self.outcome == "COMPLETED" else 0
                if self.outcome == "FAILED":
                    new["rolloutStateReason"] = "circuit breaker: tasks failed to start."
        primary = next(d for d in self.deployments if d["status"] == "PRIMARY")
        return {"serviceName": name, "taskDefinition": primary["taskDefinition"],
                "deploymentController": {"type": self.controller},
                "deployments": [dict(d) for d in self.deployments],
                "events": [{"id": "e1", "message": "(service gp) has reached a steady state."}],
                **self.extra}

    def update_service(self, cluster: str, service: str, task_definition: str,
                       force_new_deployment: bool = False,
                       desired_count: int | None = None) -> dict[str, Any]:
        self.calls.append(("update_service", task_definition))
        for d in self.deployments:
            d["status"] = "ACTIVE" if d["status"] == "PRIMARY" else d["status"]
        self.deployments.insert(0, deployment("ecs-svc/new", task_definition, "PRIMARY",
                                              "IN_PROGRESS", "2026-11-30T05:00", 0))
        return {"deployments": [dict(d) for d in self.deployments]}

    def task_definition(self, arn: str) -> dict[str, Any]:
        return td(arn)

    def task_definition_arns(self, family: str, limit: int = 100) -> list[str]:
        self.calls.append(("task_definition_arns", family))
        return sorted(self.revisions, key=lambda a: int(a.rsplit(":", 1)[1]), reverse=True)

    def stopped_tasks(self, cluster: str, started_by: str, limit: int = 10) -> list[Any]:
        return []

    def __getattr__(self, name: str) -> Any:  # register, deregister...: never called
        raise AssertionError(f"rollback called ecs.{name}")


class Logs:
    def last_lines(self, group: str, stream: str, count: int = 5) -> list[str]:
        return []


class FakeCodeDeploy:
    """A deployment group: deployments by id; StopDeployment or CreateDeployment recorded;
    every deployment looked at ends as `ends`."""

    def __init__(self, deployments: dict[str, dict[str, Any]], ends: dict[str, Any]) -> None:
        self.known, self.ends = deployments, ends
        self.calls: list[tuple[Any, ...]] = []

    def deployment_ids(self, application: str, group: str, statuses: list[str],
                       limit: int = 50) -> list[str]:
        return [i for i, d in self.known.items() if d["status"] in statuses][:limit]

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        if any(call[0] in ("stop", "create") for call in self.calls):
            return {"deploymentId": deployment_id, **self.ends}
        return self.known[deployment_id]

    def deployments(self, ids: list[str]) -> list[dict[str, Any]]:
        return [self.known[i] for i in ids]

    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None:
        return None

    def stop_deployment(self, deployment_id: str, roll_back: bool = True) -> str | None:
        self.calls.append(("stop", deployment_id, roll_back))
        return "Pending"

    def deployment_group(self, application: str, group: str) -> dict[str, Any]:
        return {"deploymentGroupName": group, "computePlatform": "ECS",
                "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce"}

    def create_deployment(self, application: str, group: str, appspec: str, sha256: str,
                          deployment_config: str | None, description: str) -> str:
        self.calls.append(("create", appspec))
        return "d-ROLLBACK1"

    def continue_deployment(self, deployment_id: str, wait_type: str = "READY_WAIT") -> bool:
        self.calls.append(("continue", deployment_id))
        return True


def appspec_deployment(ident: str, arn: str, status: str, created: str) -> dict[str, Any]:
    content = ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n"
               f"      Properties:\n        TaskDefinition: {arn}\n        LoadBalancerInfo:\n"
               "          ContainerName: web\n          ContainerPort: 8080\n")
    return {"deploymentId": ident, "status": status, "createTime": created,
            "revision": {"revisionType": "AppSpecContent",
                         "appSpecContent": {"content": content}}}


def config(**changes: Any) -> Config:
    values: dict[str, Any] = dict(cluster="gp", service="gp", task_definition=Path("td.json"),
                                  container_name="web", container_port=8080, timeout=600.0)
    return Config(environments={"staging": EnvironmentSettings(**(values | changes))})


def context(ecs: FakeEcs, codedeploy: FakeCodeDeploy | None = None) -> Context:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    # The account and registry are given: no test may reach STS (or any network).
    return Context(env={"AWS_ACCOUNT_ID": "123456789012", "SHIPYARD_REGISTRY": "127.0.0.1:9"},
                   region="ap-northeast-2", ecs=ecs, logs=Logs(), codedeploy=codedeploy,
                   sts=None, ecr=None, clock=lambda: now[0], sleep=sleep)


def test_a_deployment_in_progress_is_stopped_by_returning_to_the_one_it_replaces() -> None:
    ecs = FakeEcs([deployment("ecs-svc/3", V3, "PRIMARY", "IN_PROGRESS", "2026-11-30T04:00", 1),
                   deployment("ecs-svc/2", V2, "ACTIVE", "COMPLETED", "2026-11-30T03:00")])
    plan = plan_rollback("staging", config(), context(ecs))
    assert (plan.action, plan.current, plan.target, plan.stopping) == (STOP, V3, V2,
                                                                       "ecs-svc/3")
    assert plan.summary().startswith("rollback staging (rolling): stop deployment ecs-svc/3 "
                                     "and return from gp:3 to gp:2")
    assert ("update_service", V2) not in ecs.calls  # planning writes nothing


def test_after_two_quick_deploys_the_stop_returns_to_the_one_that_completed() -> None:
    ecs = FakeEcs([deployment("ecs-svc/3", V3, "PRIMARY", "IN_PROGRESS", "2026-11-30T04:00", 0),
                   deployment("ecs-svc/2", V2, "ACTIVE", "IN_PROGRESS", "2026-11-30T03:00", 1),
                   deployment("ecs-svc/1", V1, "ACTIVE", "COMPLETED", "2026-11-30T02:00")])
    plan = plan_rollback("staging", config(), context(ecs))
    assert (plan.action, plan.target, plan.stopping) == (STOP, V1, "ecs-svc/3")


V4 = f"{PREFIX}gp:4"


@pytest.mark.parametrize(("listed", "target", "words"), [
    # ECS still lists the deployment before the current one: it is taken, nothing more read
    ([("3", V3, "PRIMARY", "COMPLETED"), ("2", V2, "INACTIVE", "COMPLETED"),
      ("1", V1, "INACTIVE", "COMPLETED")], V2, "deployment before the current one (ecs-svc/2)"),
    # it does not: the family's newest revision older than the running one, never a newer one
    ([("3", V3, "PRIMARY", "COMPLETED"), ("4", V4, "INACTIVE", "FAILED")], V2,
     "the newest revision of gp before 3"),
    # a revision whose deployment ECS lists as FAILED is passed over
    ([("3", V3, "PRIMARY", "COMPLETED"), ("2", V2, "INACTIVE", "FAILED")], V1,
     "the newest revision of gp before 3"),
    # a circuit breaker's rollback in progress never goes back to the failed deployment
    ([("9", V2, "PRIMARY", "IN_PROGRESS"), ("3", V3, "ACTIVE", "FAILED"),
      ("1", V1, "INACTIVE", "COMPLETED")], V1, "deployment before the current one (ecs-svc/1)"),
], ids=["listed", "family", "failed-passed-over", "circuit-breaker"])
def test_at_rest_the_last_completed_deployment_before_the_current_one_is_redeployed(
        listed, target, words) -> None:
    ecs = FakeEcs([deployment(f"ecs-svc/{ident}", arn, status, rollout, f"2026-11-30T0{ident}")
                   for ident, arn, status, rollout in listed], revisions=[V1, V2, V3, V4])
    plan = plan_rollback("staging", config(), context(ecs))
    assert (plan.action, plan.target) == (REDEPLOY, target)
    assert words in plan.source
    listed_it = "before the current one (" in words
    assert (("task_definition_arns", "gp") in ecs.calls) is not listed_it


def test_nothing_earlier_is_not_found_and_nothing_is_written() -> None:
    ecs = FakeEcs([deployment("ecs-svc/1", V1, "PRIMARY", "COMPLETED", "2026-11-30T04:00")],
                  revisions=[V1])
    with pytest.raises(NotFoundError, match="no earlier deployment or ACTIVE revision of gp"):
        plan_rollback("staging", config(), context(ecs))
    assert all(call[0] != "update_service" for call in ecs.calls)


def test_a_missing_service_is_not_found() -> None:
    ecs = FakeEcs([deployment("ecs-svc/1", V1, "PRIMARY", "COMPLETED", "x")])
    ecs.exists = False
    with pytest.raises(NotFoundError, match="service gp is not in cluster gp"):
        plan_rollback("staging", config(), context(ecs))


def test_an_external_controller_is_refused() -> None:
    ecs = FakeEcs([deployment("ecs-svc/1", V1, "PRIMARY", "COMPLETED", "x")],
                  controller="EXTERNAL")
    with pytest.raises(ConfigError, match="EXTERNAL deployment controller"):
        plan_rollback("staging", config(), context(ecs))


@pytest.mark.parametrize(("outcome", "expected"), [("COMPLETED", "succeeded"),
                                                   ("FAILED", "failed")])
def test_the_rollback_is_judged_by_its_own_deployment(outcome, expected) -> None:
    ecs = FakeEcs([deployment("ecs-svc/3", V3, "PRIMARY", "COMPLETED", "2026-11-30T04:00"),
                   deployment("ecs-svc/2", V2, "INACTIVE", "COMPLETED", "2026-11-30T03:00")],
                  outcome=outcome)
    ctx = context(ecs)
    lines: list[str] = []
    result = run_rollback(plan_rollback("staging", config(), ctx), ctx, wait=True,
                          timeout=60, report=lines.append)
    assert [c for c in ecs.calls if c[0] == "update_service"] == [("update_service", V2)]
    assert (result.outcome, result.deployment_id) == (expected, "ecs-svc/new")
    assert "deployment ecs-svc/new of gp:2 started" in lines
    if expected == "failed":
        assert "circuit breaker" in result.reason
        with pytest.raises(DeploymentError, match="rollback of staging did not succeed"):
            result.enforce()
    else:
        result.enforce()


def test_no_wait_starts_and_returns() -> None:
    ecs = FakeEcs([deployment("ecs-svc/3", V3, "PRIMARY", "COMPLETED", "2026-11-30T04:00"),
                   deployment("ecs-svc/2", V2, "INACTIVE", "COMPLETED", "2026-11-30T03:00")])
    ctx = context(ecs)
    result = run_rollback(plan_rollback("staging", config(), ctx), ctx, wait=False,
                          timeout=60, report=lambda line: None)
    assert result.outcome == "started" and ecs.calls.count(("service",)) == 1


def test_dry_run_and_a_refused_approval_write_nothing(monkeypatch) -> None:
    import shipyard.usecases.deploy.notify as notify

    announced: list[Any] = []
    monkeypatch.setattr(notify, "announce", lambda report, *a: announced.append(report))
    ecs = FakeEcs([deployment("ecs-svc/3", V3, "PRIMARY", "COMPLETED", "2026-11-30T04:00"),
                   deployment("ecs-svc/2", V2, "INACTIVE", "COMPLETED", "2026-11-30T03:00")])
    ctx = context(ecs)
    planned = rollback(RollbackOptions("staging", dry_run=True), config(), ctx,
                       lambda line: None, lambda line: None)
    assert planned.outcome == "planned"
    with pytest.raises(ApprovalError):
        rollback(RollbackOptions("staging"), config(require_approval=True), ctx,
                 lambda line: None, lambda line: None)
    assert all(call[0] != "update_service" for call in ecs.calls) and not announced
    done = rollback(RollbackOptions("staging", yes=True), config(require_approval=True), ctx,
                    lambda line: None, lambda line: None)
    assert done.outcome == "succeeded"
    assert [(r.command, r.outcome, r.task_definition) for r in announced] == [
        ("rollback", "started", V2), ("rollback", "succeeded", V2)]


# --- blue/green ---------------------------------------------------------------------------


def blue_green_config() -> Config:
    return config(deployment="blue_green", codedeploy_application="gp",
                  codedeploy_group="gp-production")


def code_deploy_service(serving: str) -> FakeEcs:
    return FakeEcs([deployment("ecs-svc/x", serving, "PRIMARY", "COMPLETED", "x")],
                   controller="CODE_DEPLOY",
                   taskSets=[{"id": "ecs-svc/blue", "status": "PRIMARY",
                              "taskDefinition": serving}])


def test_blue_green_in_progress_is_stopped_with_rollback() -> None:
    codedeploy = FakeCodeDeploy({"d-NEW": appspec_deployment("d-NEW", V3, "InProgress", "2")},
                                ends={"status": "Stopped", "rollbackInfo": {
                                    "rollbackMessage": "rolled back"}})
    ecs = code_deploy_service(V2)
    ctx = context(ecs, codedeploy)
    plan = plan_rollback("staging", blue_green_config(), ctx)
    assert (plan.action, plan.current, plan.target, plan.stopping) == (STOP, V3, V2, "d-NEW")
    result = run_rollback(plan, ctx, wait=True, timeout=60, report=lambda line: None)
    assert codedeploy.calls[0] == ("stop", "d-NEW", True)
    assert result.outcome == "succeeded" and "rolled back" in result.reason


@pytest.mark.parametrize(("ends", "words"), [
    ({"status": "Succeeded"}, "before the stop took effect"),
    ({"status": "Stopped"}, "stopped"),  # stopped, but CodeDeploy did not roll it back
], ids=["succeeded-anyway", "not-rolled-back"])
def test_a_stop_that_did_not_bring_the_original_back_is_a_failed_rollback(ends, words) -> None:
    codedeploy = FakeCodeDeploy({"d-NEW": appspec_deployment("d-NEW", V3, "InProgress", "2")},
                                ends=ends)
    ctx = context(code_deploy_service(V2), codedeploy)
    result = run_rollback(plan_rollback("staging", blue_green_config(), ctx), ctx, wait=True,
                          timeout=60, report=lambda line: None)
    assert result.outcome == "failed" and words in result.reason


def test_blue_green_at_rest_redeploys_the_previous_revision() -> None:
    codedeploy = FakeCodeDeploy({"d-1": appspec_deployment("d-1", V1, "Succeeded", "1"),
                                 "d-2": appspec_deployment("d-2", V2, "Succeeded", "2"),
                                 "d-3": appspec_deployment("d-3", V3, "Succeeded", "3")},
                                ends={"status": "Succeeded"})
    ecs = code_deploy_service(V3)
    ctx = context(ecs, codedeploy)
    plan = plan_rollback("staging", blue_green_config(), ctx)
    assert (plan.action, plan.target) == (REDEPLOY, V2) and "d-2" in plan.source
    verdict = redeploy_previous_blue_green(blue_green_config(), ctx, "staging", timeout=60,
                                           report=lambda line: None)
    assert verdict.state == "succeeded"
    created = [call for call in codedeploy.calls if call[0] == "create"]
    assert len(created) == 1 and f"TaskDefinition: {V2}" in created[0][1]


def test_the_deploy_s_blue_green_rollback_never_raises() -> None:
    codedeploy = FakeCodeDeploy({"d-1": appspec_deployment("d-1", V1, "Succeeded", "1")},
                                ends={"status": "Succeeded"})
    ctx = context(code_deploy_service(V1), codedeploy)
    verdict = redeploy_previous_blue_green(blue_green_config(), ctx, "staging", timeout=60,
                                           report=lambda line: None)
    assert verdict.state == "failed" and "could not run" in verdict.reason


def test_a_blue_green_rollback_that_times_out_is_left_running_not_stopped() -> None:
    codedeploy = FakeCodeDeploy({"d-1": appspec_deployment("d-1", V1, "Succeeded", "1"),
                                 "d-2": appspec_deployment("d-2", V2, "Succeeded", "2")},
                                ends={"status": "InProgress"})
    ctx = context(code_deploy_service(V2), codedeploy)
    result = run_rollback(plan_rollback("staging", blue_green_config(), ctx), ctx, wait=True,
                          timeout=30, report=lambda line: None)
    assert result.outcome == "failed" and result.reason.startswith("timed out after 30s")
    assert "d-ROLLBACK1 is left running" in result.reason
    assert "--leave-running" not in result.reason
    assert [call[0] for call in codedeploy.calls] == ["create"]  # never stopped
