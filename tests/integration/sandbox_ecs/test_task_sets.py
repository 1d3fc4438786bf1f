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


class TwoTaskSets:
    """A CODE_DEPLOY service on A (`first`) behind blue, `desired` tasks, checked as ECS
    makes it; then `replace()` adds a task set of B (`second`) on green."""

    def __init__(self, world, load_balancer, desired: int) -> None:
        (self.blue, self.green), self.url = load_balancer(groups=2)
        self.world, self.name = world, f"bg-{uuid.uuid4().hex[:6]}"
        self.first, self.second = (world.register(self.name, [versioned(v)])
                                   for v in ("A", "B"))
        self.ecs = world.client("ecs")
        self.ecs.create_service(
            cluster=world.cluster, serviceName=self.name, taskDefinition=self.first,
            desiredCount=desired, launchType="FARGATE", networkConfiguration=world.network,
            deploymentController={"type": "CODE_DEPLOY"},
            loadBalancers=[{"targetGroupArn": self.blue, "containerName": "web",
                            "containerPort": 8080}])
        (self.original,) = steady(world, self.name, 1)
        assert (self.original["status"], self.original["runningCount"]) == ("PRIMARY",
                                                                             desired)

    def replace(self) -> dict:
        replacement = self.ecs.create_task_set(
            cluster=self.world.cluster, service=self.name, taskDefinition=self.second,
            launchType="FARGATE", networkConfiguration=self.world.network,
            loadBalancers=[{"targetGroupArn": self.green, "containerName": "web",
                            "containerPort": 8080}],
            scale={"value": 100, "unit": "PERCENT"})["taskSet"]
        steady(self.world, self.name, 2)
        return replacement


def test_task_sets_run_register_and_drain_as_codedeploy_moves_them(world, load_balancer):
    service = TwoTaskSets(world, load_balancer, 2)
    name, ecs, blue, green, url = (service.name, service.ecs, service.blue, service.green,
                                   service.url)
    second, original = service.second, service.original
    assert len(targets(world, blue)) == 2
    assert fetch(url) == (200, "A")
    replacement = service.replace()
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


def test_a_task_set_being_deleted_stays_deleted_when_another_is_made_primary(
        world, load_balancer) -> None:
    # A rolled-back replacement is still draining when the next deployment promotes its
    # own: moto would make every other task set ACTIVE again, and its tasks would restart.
    service = TwoTaskSets(world, load_balancer, 1)
    name, ecs, first, original = service.name, service.ecs, service.first, service.original
    replacement = service.replace()
    ecs.delete_task_set(cluster=world.cluster, service=name,
                        taskSet=replacement["taskSetArn"])
    ecs.update_service_primary_task_set(cluster=world.cluster, service=name,
                                        primaryTaskSet=original["taskSetArn"])
    statuses = {t["taskSetArn"]: t["status"] for t in task_sets(world, name)}
    assert statuses.get(replacement["taskSetArn"], "gone") in ("DRAINING", "gone"), statuses
    (left,) = steady(world, name, 1)
    assert left["taskSetArn"] == original["taskSetArn"]
    running = ecs.describe_tasks(cluster=world.cluster, tasks=ecs.list_tasks(
        cluster=world.cluster, serviceName=name)["taskArns"])["tasks"]
    assert {t["taskDefinitionArn"] for t in running} == {first}
    ecs.update_service(cluster=world.cluster, service=name, desiredCount=0)
    remove(world, name)
