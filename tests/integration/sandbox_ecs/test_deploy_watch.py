"""The deploy engine's watch loop on real rolling updates in the sandbox: a good one is a
success; one the circuit breaker rolls back is a failure with its reason, though the service
ends stable (what a "services stable" waiter reports as success)."""

from __future__ import annotations

import time
import uuid

import pytest

from shipyard.adapters.aws import Aws
from shipyard.adapters.ecs import Ecs
from shipyard.adapters.logs import CloudWatchLogs
from shipyard.usecases.deploy.explain import explain_rolling_failure
from shipyard.usecases.deploy.watch import rolling_look, watch

from .test_services import create, remove, settled, web

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("broken", "state", "words"), [
    (False, "succeeded", "completed: 1/1 running"),
    (True, "failed", "circuit breaker: tasks failed to start"),
], ids=["good", "rolled-back"])
def test_watch_judges_our_own_deployment(world, monkeypatch, broken, state, words) -> None:
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    name = f"watch-{uuid.uuid4().hex[:6]}"
    first = world.register(name, [web("A")])
    second = world.register(name, [web("B", command=["echo version B; exit 1"]) if broken
                                   else web("B")])
    create(world, name, first, 1, minimumHealthyPercent=100, maximumPercent=200,
           deploymentCircuitBreaker={"enable": True, "rollback": True})
    settled(world, name, first, 1)
    seen = {event["id"] for event in world.service(name)["events"]}
    answer = world.client("ecs").update_service(cluster=world.cluster, service=name,
                                                taskDefinition=second)
    ours = next(d["id"] for d in answer["service"]["deployments"] if d["status"] == "PRIMARY")
    lines: list[str] = []
    verdict = watch(rolling_look(Ecs(Aws(world.env["AWS_REGION"])), world.cluster, name, ours,
                                 seen), timeout=60, clock=time.monotonic, sleep=time.sleep,
                    report=lines.append)
    assert verdict.state == state and words in verdict.reason, (verdict, lines)
    if broken:  # what deploy prints at once; then the service is stable again, on A
        why = explain_rolling_failure(Ecs(Aws(world.env["AWS_REGION"])),
                                      CloudWatchLogs(Aws(world.env["AWS_REGION"])),
                                      world.cluster, name, ours)
        settled(world, name, first, 1)  # only our deployment's id told the truth
        assert any(line.startswith("event: ") and "deployment failed" in line for line in why), why
        assert any("stopped: Essential container in task exited" in line for line in why)
        assert "  container web: exit code 1" in why
        assert "    | version B" in why, why  # what the container printed before it exited
    remove(world, name)


def test_watch_follows_a_blue_green_deployment_event_by_event(world, load_balancer,
                                                              monkeypatch) -> None:
    from shipyard.adapters.codedeploy import CodeDeploy
    from shipyard.usecases.deploy.watch import blue_green_look

    from .test_codedeploy_blue_green import blue_green, hook_function

    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    hook = hook_function(world, f"CodeDeployHook_watch-{uuid.uuid4().hex[:6]}", "Succeeded")
    name, deployment, _, _ = blue_green(world, load_balancer, {"AfterInstall": hook})
    lines: list[str] = []
    verdict = watch(blue_green_look(CodeDeploy(Aws(world.env["AWS_REGION"])), deployment),
                    timeout=90, clock=time.monotonic, sleep=time.sleep, report=lines.append)
    assert verdict.state == "succeeded", (verdict, lines)
    events = [line for line in lines if line.split(":")[0] in (
        "BeforeInstall", "Install", "AfterInstall", "AllowTraffic")]
    assert events.index("Install: Succeeded") < events.index("AfterInstall: Succeeded") \
        < events.index("AllowTraffic: Succeeded")
    weights = [line for line in lines if line.startswith("traffic: ")]
    assert "traffic: Blue 50%, Green 50%" in weights  # the group's canary, seen as it shifted
    assert weights[-1] == "traffic: Blue 0%, Green 100%"
    world.client("ecs").update_service(cluster=world.cluster, service=name, desiredCount=0)
    remove(world, name)


def test_a_rolling_deployment_started_by_shipyard_is_watched_to_success(world,
                                                                        monkeypatch) -> None:
    from shipyard.usecases.deploy.rolling import start_rolling

    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    name = f"roll-{uuid.uuid4().hex[:6]}"
    create(world, name, world.register(name, [web("A")]), 1)
    settled(world, name, world.client("ecs").describe_services(
        cluster=world.cluster, services=[name])["services"][0]["taskDefinition"], 1)
    ecs = Ecs(Aws(world.env["AWS_REGION"]))
    definition = {"family": name, "networkMode": "awsvpc",
                  "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
                  "containerDefinitions": [{**web("B"), "image": world.image}]}
    started = start_rolling(ecs, world.cluster, name, definition)
    assert started.task_definition.endswith(f"task-definition/{name}:2")
    verdict = watch(rolling_look(ecs, world.cluster, name, started.deployment_id),
                    timeout=60, clock=time.monotonic, sleep=time.sleep, report=lambda _: None)
    assert verdict.state == "succeeded", verdict
    assert world.service(name)["taskDefinition"] == started.task_definition
    remove(world, name)
