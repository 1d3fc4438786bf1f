"""A CODE_DEPLOY service runs task sets, as CodeDeploy moves them: the initial PRIMARY one
at creation, a replacement from CreateTaskSet on the other target group, the swap by
UpdateServicePrimaryTaskSet and the original drained by DeleteTaskSet."""

from __future__ import annotations

import uuid

import pytest

from .conftest import wait_for
from .test_load_balanced import fetch, versioned
from .test_services import remove

pytestmark = pytest.mark.integration


def task_sets(world, name: str) -> list[dict]:
    return world.client("ecs").describe_task_sets(cluster=world.cluster, service=name)[
        "taskSets"]


def steady(world, name: str, count: int) -> list[dict]:
    return wait_for(f"{count} steady task sets", lambda: (
        found := task_sets(world, name)) and len(found) == count and all(
        t["stabilityStatus"] == "STEADY_STATE" for t in found) and found)


def targets(world, group: str, state: str = "healthy") -> list[str]:
    described = world.client("elbv2").describe_target_health(TargetGroupArn=group)
    return sorted(t["Target"]["Id"] for t in described["TargetHealthDescriptions"]
                  if t["TargetHealth"]["State"] == state)


def test_task_sets_run_register_and_drain_as_codedeploy_moves_them(world, load_balancer):
    (blue, green), url = load_balancer(groups=2)
    name = f"bg-{uuid.uuid4().hex[:6]}"
    first, second = (world.register(name, [versioned(v)]) for v in ("A", "B"))
    ecs = world.client("ecs")
    ecs.create_service(
        cluster=world.cluster, serviceName=name, taskDefinition=first, desiredCount=2,
        launchType="FARGATE", networkConfiguration=world.network,
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=[{"targetGroupArn": blue, "containerName": "web",
                        "containerPort": 8080}])
    (original,) = steady(world, name, 1)
    assert (original["status"], original["runningCount"]) == ("PRIMARY", 2)
    assert len(targets(world, blue)) == 2
    assert fetch(url) == (200, "A")
    replacement = ecs.create_task_set(
        cluster=world.cluster, service=name, taskDefinition=second,
        launchType="FARGATE", networkConfiguration=world.network,
        loadBalancers=[{"targetGroupArn": green, "containerName": "web",
                        "containerPort": 8080}],
        scale={"value": 100, "unit": "PERCENT"})["taskSet"]
    steady(world, name, 2)
    assert len(targets(world, green, "unused")) == 2  # no listener uses green yet
    ecs.update_service_primary_task_set(cluster=world.cluster, service=name,
                                        primaryTaskSet=replacement["taskSetArn"])
    ecs.delete_task_set(cluster=world.cluster, service=name, taskSet=original["taskSetArn"])
    (left,) = steady(world, name, 1)
    assert (left["taskSetArn"], left["status"]) == (replacement["taskSetArn"], "PRIMARY")
    wait_for("blue to be empty", lambda: targets(world, blue) == [])
    running = ecs.describe_tasks(cluster=world.cluster, tasks=ecs.list_tasks(
        cluster=world.cluster, serviceName=name)["taskArns"])["tasks"]
    assert {t["taskDefinitionArn"] for t in running} == {second} and len(running) == 2
    ecs.update_service(cluster=world.cluster, service=name, desiredCount=0)
    remove(world, name)
    assert targets(world, green, "unused") == []
