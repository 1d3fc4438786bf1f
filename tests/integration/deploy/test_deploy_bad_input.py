"""`shipyard deploy` refuses bad input with one line, its exit code, and nothing changed: no
task definition registered, no service updated, no CodeDeploy deployment created."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

MISSING_DIGEST = "sha256:" + "0" * 64


def _state(world) -> tuple:
    codedeploy = world.client("codedeploy")
    deployments = codedeploy.list_deployments(
        applicationName=world.name, deploymentGroupName=f"{world.name}-production")
    return (world.task_definitions("staging"), world.task_definitions("production"),
            world.service("staging")["deployments"], world.service("production")["taskSets"],
            deployments["deployments"])


@pytest.mark.parametrize("args, code, words", [
    (["deploy", "nowhere"], 3, ["environment 'nowhere'", "staging"]),
    (["deploy", "staging", "--version", "1.1.0", "--image", ":1.1.0"], 2,
     ["--image and --version"]),
    (["deploy", "staging", "--version", "banana"], 2, ["--version 'banana'", "X.Y.Z"]),
    (["deploy", "staging", "--version", "9.9.9"], 14, ["9.9.9", "not in ECR"]),
    (["deploy", "staging", "--image", f"@{MISSING_DIGEST}"], 13, ["not in ECR"]),
    (["deploy", "staging", "--version", "1.1.0", "--deployment-config",
      "CodeDeployDefault.ECSAllAtOnce"], 2, ["--deployment-config", "rolling"]),
    (["deploy", "production", "--version", "1.1.0", "--deployment-config", "NoSuchConfig"], 2,
     ["NoSuchConfig"]),
    (["deploy", "staging", "--timeout", "0"], 2, ["--timeout"]),
])
def test_refused_with_nothing_changed(world, shipyard, args, code, words) -> None:
    world.push(shipyard, "1.1.0")
    before = _state(world)
    result = world.run(shipyard, *args)
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert result.code == code, result.out + result.err
    assert len(errors) == 1 and all(word in errors[0] for word in words), result.err
    assert "Traceback" not in result.err
    assert _state(world) == before
