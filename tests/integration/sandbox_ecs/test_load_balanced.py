"""A service behind the sandbox's load balancer: its tasks are registered with the target
group, counted only once the target group finds them healthy, drained before they stop, and
a rolling update changes what the listener answers without a failed request."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
import uuid

import pytest

from .conftest import wait_for
from .test_services import messages, remove, settled

pytestmark = pytest.mark.integration
MAX_REQUESTS = 5000  # bounds the request loop; it ends when the rollout has ended


def versioned(version: str) -> dict:
    return {"name": "web", "stopTimeout": 2, "portMappings": [{"containerPort": 8080}],
            "user": "root",  # /www belongs to root
            "command": [f"echo {version} > /www/version.txt; exec httpd -f -p 8080 -h /www"]}


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{url}/version.txt", timeout=10) as answer:
            return answer.status, answer.read().decode().strip()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError as error:
        return 0, str(error)


def test_a_rolling_update_behind_the_listener_fails_no_request(world, load_balancer):
    (group,), url = load_balancer()
    name = f"lb-{uuid.uuid4().hex[:6]}"
    first, second = (world.register(name, [versioned(v)]) for v in ("A", "B"))
    world.client("ecs").create_service(
        cluster=world.cluster, serviceName=name, taskDefinition=first, desiredCount=2,
        launchType="FARGATE", networkConfiguration=world.network,
        loadBalancers=[{"targetGroupArn": group, "containerName": "web",
                        "containerPort": 8080}],
        deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    settled(world, name, first, 2)
    health = world.client("elbv2").describe_target_health(TargetGroupArn=group)[
        "TargetHealthDescriptions"]
    assert [t["TargetHealth"]["State"] for t in health] == ["healthy", "healthy"]
    assert fetch(url) == (200, "A")
    answers: list[tuple[int, str]] = []
    rolled = threading.Event()

    def loop() -> None:
        for _ in range(MAX_REQUESTS):
            if rolled.is_set():
                return
            answers.append(fetch(url))

    requester = threading.Thread(target=loop)
    requester.start()
    try:
        world.client("ecs").update_service(cluster=world.cluster, service=name,
                                           taskDefinition=second)
        service = settled(world, name, second, 2)
    finally:
        rolled.set()
        requester.join(30)
    assert [a for a in answers if a[0] != 200] == []
    bodies = [body for _status, body in answers]
    assert "B" in bodies and bodies[-1] == "B"
    assert fetch(url) == (200, "B")
    events = messages(service)
    assert any(e.startswith(f"(service {name}) registered 1 targets in (target-group ")
               for e in events)
    assert any(e.startswith(f"(service {name}) deregistered 1 targets in (target-group ")
               for e in events)
    remove(world, name)
    wait_for("the targets to be gone", lambda: not world.client("elbv2").describe_target_health(
        TargetGroupArn=group)["TargetHealthDescriptions"])
