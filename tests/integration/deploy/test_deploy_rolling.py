"""`shipyard deploy staging`: rolling deploys on the sandbox runtime, judged by our own
deployment, with the reason, the stopped tasks and their logs when one fails.

The tests of this module share one world and run in order: the first deploys 1.1.0, which the
failing deploys after it must leave the service on.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

DEPLOYMENT_FAILED = 15  # ExitCode.DEPLOYMENT, as the README's exit code table documents it


def test_dry_run_writes_nothing(world, shipyard) -> None:
    world.push(shipyard, "1.1.0")
    before = (world.task_definitions("staging"), world.service("staging")["deployments"])
    result = world.run(shipyard, "deploy", "staging", "--version", "1.1.0", "--dry-run")
    assert result.code == 0, result.err
    assert "dry run: would register" in result.out
    assert "scaling it to 2 tasks" in result.out
    assert '"image":' in result.out  # the diff names the new image
    after = (world.task_definitions("staging"), world.service("staging")["deployments"])
    assert after == before


def test_a_good_image_is_deployed_and_served(world, shipyard) -> None:
    world.push(shipyard, "1.1.0")
    result = world.run(shipyard, "deploy", "staging", "--version", "1.1.0", "--json")
    assert result.code == 0, result.err
    report = result.json()["report"]
    assert report["outcome"] == "succeeded"
    assert report["version"] == "1.1.0"
    service = world.service("staging")
    assert service["taskDefinition"] == report["task_definition"]
    assert service["runningCount"] == service["desiredCount"] == 2
    assert world.served_version(8081) == "1.1.0"
    # the health check after the deploy asked the listener for the version it serves
    assert any("1.1.0" in line for line in result.json()["health"])


def test_deploying_the_same_definition_again_changes_nothing(world, shipyard) -> None:
    before = world.task_definitions("staging")
    result = world.run(shipyard, "deploy", "staging", "--version", "1.1.0")
    assert result.code == 0, result.err
    assert "nothing to deploy" in result.out
    assert world.task_definitions("staging") == before


def test_an_image_that_exits_fails_with_its_logs_and_the_service_stays(world, shipyard
                                                                       ) -> None:
    image = world.push(shipyard, "1.2.0", kind="exits")
    result = world.run(shipyard, "deploy", "staging", "--image", image)
    assert result.code == DEPLOYMENT_FAILED, result.out + result.err
    assert "error: deploy staging failed" in result.err
    assert "Essential container in task exited" in result.out
    assert "exit code 3" in result.out
    assert "DATABASE_URL is not set" in result.out  # the task's last log line
    assert world.served_version(8081) == "1.1.0"
    assert world.running_image("staging") == world.push(shipyard, "1.1.0")


def test_an_unhealthy_image_fails_and_the_service_stays(world, shipyard) -> None:
    image = world.push(shipyard, "1.3.0", kind="unhealthy")
    result = world.run(shipyard, "deploy", "staging", "--image", image)
    assert result.code == DEPLOYMENT_FAILED, result.out + result.err
    assert "error: deploy staging failed" in result.err
    # the stopped tasks of our deployment, each with why ECS stopped it and its last log line
    assert "failed container health checks" in result.out, result.out
    assert "gamepulse: started without its /health endpoint" in result.out, result.out
    assert world.served_version(8081) == "1.1.0"
    assert world.running_image("staging") == world.push(shipyard, "1.1.0")


def test_the_timeout_rolls_back_when_asked(world, shipyard) -> None:
    image = world.push(shipyard, "1.4.0")
    result = world.run(shipyard, "deploy", "staging", "--image", image, "--timeout", "1",
                       "--rollback-on-timeout")
    assert result.code == DEPLOYMENT_FAILED, result.out + result.err
    assert "timed out after 1s" in result.err
    assert "rolled back" in result.err
    assert world.served_version(8081) == "1.1.0"
    assert world.running_image("staging") == world.push(shipyard, "1.1.0")


def test_the_image_comes_from_shipyard_image_in_ci(world, shipyard) -> None:
    image = world.push(shipyard, "1.1.0")
    result = world.run(shipyard, "deploy", "staging", "--dry-run", "--json",
                       env={"SHIPYARD_IMAGE": image})
    assert result.code == 0, result.err
    assert result.json()["plan"]["image"] == image
    assert result.json()["plan"]["version"] == "1.1.0"  # from the image's label
