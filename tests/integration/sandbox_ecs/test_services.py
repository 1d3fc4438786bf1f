"""Services with the ECS deployment controller: rolling updates, the circuit breaker with
rollback, and DeleteService, observed through DescribeServices, DescribeTasks and /proc."""

from __future__ import annotations

import uuid

import pytest

from .conftest import processes_with, wait_for

pytestmark = pytest.mark.integration

WEB = "exec httpd -f -p 8080 -h /www"


def web(version: str, **extra) -> dict:
    return {"name": "web", "command": [f"echo version {version}; {WEB}"],
            "portMappings": [{"containerPort": 8080}], "stopTimeout": 2,
            "environment": [{"name": "VERSION", "value": version}], **extra}


def create(world, name: str, task_definition: str, desired: int, **configuration) -> None:
    world.client("ecs").create_service(
        cluster=world.cluster, serviceName=name, taskDefinition=task_definition,
        desiredCount=desired, launchType="FARGATE", networkConfiguration=world.network,
        deploymentConfiguration=configuration)


def settled(world, name: str, task_definition: str, count: int):
    """The service once its one deployment of `task_definition` completed with `count`."""
    def probe():
        service = world.service(name)
        deployments = [d for d in service["deployments"] if d["status"] != "INACTIVE"]
        return (len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED"
                and deployments[0]["taskDefinition"] == task_definition
                and service["runningCount"] == count and service)
    return wait_for(f"{name} to settle on {task_definition}", probe)


def service_tasks(world, name: str, status: str = "RUNNING") -> list[dict]:
    ecs = world.client("ecs")
    arns = ecs.list_tasks(cluster=world.cluster, serviceName=name,
                          desiredStatus=status)["taskArns"]
    return ecs.describe_tasks(cluster=world.cluster, tasks=arns)["tasks"] if arns else []


def messages(service: dict) -> list[str]:
    return [event["message"] for event in service["events"]]


def remove(world, name: str) -> None:
    world.client("ecs").delete_service(cluster=world.cluster, service=name, force=True)
    wait_for(f"{name} to be deleted", lambda: world.service(name)["status"] == "INACTIVE")


def test_a_service_rolls_from_a_to_b_within_its_percentages(world):
    name = f"roll-{uuid.uuid4().hex[:6]}"
    first = world.register(name, [web("A")])
    second = world.register(name, [web("B")])
    create(world, name, first, 2, minimumHealthyPercent=50, maximumPercent=150)
    settled(world, name, first, 2)
    world.client("ecs").update_service(cluster=world.cluster, service=name,
                                       taskDefinition=second)
    most = 0

    def rolled():
        nonlocal most
        tasks = service_tasks(world, name)
        most = max(most, len(tasks))
        service = world.service(name)
        done = service["deployments"][0]
        return (done["taskDefinition"] == second and done["rolloutState"] == "COMPLETED"
                and [d["status"] for d in service["deployments"]] in (
                    ["PRIMARY"], ["PRIMARY", "INACTIVE"]) and service)

    service = wait_for("the rollout to B", rolled)
    assert most <= 3  # maximumPercent 150 of 2
    running = service_tasks(world, name)
    assert {t["taskDefinitionArn"] for t in running} == {second} and len(running) == 2
    events = messages(service)
    assert any(e.startswith(f"(service {name}) has started 1 tasks: (task ") for e in events)
    assert f"(service {name}) has reached a steady state." in events
    assert service["deploymentConfiguration"]["maximumPercent"] == 150
    remove(world, name)


@pytest.mark.parametrize(("bad", "reason"), [
    ({"command": ["echo starting; exit 1"]}, "Essential container in task exited"),
    ({"healthCheck": {"command": ["CMD-SHELL", "exit 1"], "interval": 5, "timeout": 2,
                      "retries": 1}}, "Task failed container health checks"),
], ids=["exits-at-start", "never-healthy"])
def test_a_failing_deployment_trips_the_circuit_breaker_and_rolls_back(world, bad, reason):
    name = f"breaker-{uuid.uuid4().hex[:6]}"
    good = world.register(name, [web("A")])
    broken = world.register(name, [{**web("B"), **bad}])
    create(world, name, good, 1, minimumHealthyPercent=100, maximumPercent=200,
           deploymentCircuitBreaker={"enable": True, "rollback": True})
    completed = settled(world, name, good, 1)["deployments"][0]["id"]
    world.client("ecs").update_service(cluster=world.cluster, service=name,
                                       taskDefinition=broken)
    failed = wait_for("the broken deployment to fail", lambda: next(
        (d for d in world.service(name)["deployments"] if d["rolloutState"] == "FAILED"),
        None))
    assert failed["taskDefinition"] == broken and failed["failedTasks"] >= 3
    assert failed["rolloutStateReason"] == \
        "ECS deployment circuit breaker: tasks failed to start."
    service = settled(world, name, good, 1)
    rollback = service["deployments"][0]
    assert rollback["id"] not in (completed, failed["id"])
    events = messages(service)
    assert f"(service {name}) (deployment {failed['id']}) deployment failed: tasks failed " \
        "to start." in events
    assert f"(service {name}) rolling back to deployment {completed}." in events
    stopped = [t for t in service_tasks(world, name, "STOPPED")
               if t["taskDefinitionArn"] == broken]
    reasons = {t["stoppedReason"] for t in stopped}
    # A task of the broken deployment still starting when the breaker trips is stopped by
    # the rollback's deployment instead.
    assert reason in reasons
    assert all(r == reason or r.startswith("Scaling activity initiated by (deployment ")
               for r in reasons)
    if "command" in bad:  # what the failing container printed is in CloudWatch Logs
        task_id = next(t for t in stopped if t["stoppedReason"] == reason)["taskArn"].rsplit(
            "/", 1)[1]
        assert "starting" in world.log_lines(f"{name}/web/{task_id}")
    remove(world, name)


def test_delete_service_stops_its_processes(world):
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    name = f"gone-{marker}"
    definition = world.register(name, [{"name": "app", "stopTimeout": 2,
                                        "command": [f"sleep 600; echo {marker}"]}])
    create(world, name, definition, 2)
    settled(world, name, definition, 2)
    assert len(processes_with(marker)) == 2
    remove(world, name)
    assert processes_with(marker) == []
    assert service_tasks(world, name) == []


def test_a_rollback_that_fails_too_is_left_failed_not_rolled_back_again(world):
    name = f"twice-{uuid.uuid4().hex[:6]}"
    broken = [{"name": "app", "command": ["exit 2"]}]
    first, second = world.register(name, broken), world.register(name, broken)
    create(world, name, first, 0, deploymentCircuitBreaker={"enable": True, "rollback": True})
    settled(world, name, first, 0)  # nothing to run: completed at once, as on ECS
    world.client("ecs").update_service(cluster=world.cluster, service=name,
                                       taskDefinition=second, desiredCount=1)
    service = wait_for("the rollback to fail", lambda: (
        s := world.service(name))["deployments"][0]["rolloutState"] == "FAILED"
        and s["deployments"][0]["taskDefinition"] == first and s)
    assert sum("rolling back" in message for message in messages(service)) == 1
    # The rollback (PRIMARY) and the deployment it replaced, both FAILED; the first one
    # may still be listed, INACTIVE.
    assert [d["rolloutState"] for d in service["deployments"][:2]] == ["FAILED", "FAILED"]
    remove(world, name)
