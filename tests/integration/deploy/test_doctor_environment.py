"""`shipyard doctor ENV` on the sandbox runtime: a healthy staging gives every environment
check ok; a blue/green deployment stopped by a failed hook is named, hook and message.
(A service whose tasks crash: test_doctor_crash.py, a world of its own.) No run writes:
the task definitions, the service and the deployments are the same before and after."""

from __future__ import annotations

import json

import pytest
from tests.integration.deploy.test_blue_green import deploy, failing_hook, serving

pytestmark = pytest.mark.integration

DIAGNOSIS = 20


def environment_checks(result) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.out)["checks"]
            if c["group"] == "environment"}


def unchanged(world) -> tuple:
    service = {k: v for k, v in world.service("staging").items() if k != "events"}
    return (world.task_definitions("staging"), world.task_definitions("production"), service,
            world.client("codedeploy").list_deployments(
                applicationName=world.name,
                deploymentGroupName=f"{world.name}-production")["deployments"])


def test_a_healthy_staging_gives_every_check_ok(world, shipyard) -> None:
    image = world.push(shipyard, "1.1.0")
    assert world.run(shipyard, "deploy", "staging", "--image", image).code == 0
    before = unchanged(world)
    checked = world.run(shipyard, "doctor", "staging", "--json")
    assert checked.code == 0, checked.out + checked.err
    checks = environment_checks(checked)
    assert {name: c["status"] for name, c in checks.items()} == {
        "cluster": "ok", "service": "ok", "deployments": "ok", "stopped tasks": "ok",
        "target health": "ok", "codedeploy": "skipped", "task definition": "ok"}
    assert "every target healthy" in checks["target health"]["detail"]
    permissions = [c for c in json.loads(checked.out)["checks"] if c["group"] == "permissions"]
    # moto has no policy simulator: doctor says it cannot tell, and does not guess
    assert [c["status"] for c in permissions] == ["skipped"]
    assert permissions[0]["detail"].startswith("cannot tell")
    assert unchanged(world) == before


def test_a_deployment_stopped_by_a_failed_hook_names_the_hook(world, shipyard) -> None:
    serving(world, shipyard, "1.1.0")
    with failing_hook(world) as function:
        verdict, lines, _ = deploy(world, shipyard, "1.2.0",
                                   hooks={"AfterAllowTestTraffic": function})
    assert verdict.state != "succeeded", lines
    before = unchanged(world)
    checked = world.run(shipyard, "doctor", "production", "--json")
    assert checked.code == DIAGNOSIS, checked.out + checked.err
    codedeploy = environment_checks(checked)["codedeploy"]
    assert codedeploy["status"] == "fail"
    assert "at its AfterAllowTestTraffic hook" in codedeploy["detail"]
    assert any(line.startswith("AfterAllowTestTraffic failed: ") and function in line
               for line in codedeploy["evidence"]), codedeploy
    assert unchanged(world) == before
    text = world.run(shipyard, "doctor", "production")
    assert text.code == DIAGNOSIS and "FAIL codedeploy" in text.out
    assert "error: 1 check(s) failed" in text.err or "check(s) failed" in text.err
