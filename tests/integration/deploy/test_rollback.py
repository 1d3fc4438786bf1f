"""`shipyard rollback`: on the sandbox runtime, after a completed deploy the previous version
is served again through the listener; a deployment in progress is stopped by returning to
the one it was replacing; `--dry-run` changes nothing; nothing is ever deregistered.

The tests of this module share one world and run in order: staging gets 1.1.0 then 1.2.0,
production (blue/green) the same; an unhealthy 1.3.0 is then stopped in progress on both.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def deployments(world, environment: str) -> list[tuple[str, str, str]]:
    return [(d["id"], d["status"], d["taskDefinition"])
            for d in world.service(environment)["deployments"]]


def deploy(world, shipyard, environment: str, version: str, *more: str) -> dict:
    world.push(shipyard, version)
    result = world.run(shipyard, "deploy", environment, "--version", version, "--json",
                       "--yes", *more)
    assert result.code == 0, result.out + result.err
    return result.json()


def test_rollback_after_a_completed_deploy_serves_the_previous_version(world, shipyard
                                                                       ) -> None:
    first = deploy(world, shipyard, "staging", "1.1.0")["report"]["task_definition"]
    second = deploy(world, shipyard, "staging", "1.2.0")["report"]["task_definition"]
    assert world.served_version(8081) == "1.2.0"
    registered = world.task_definitions("staging")

    planned = world.run(shipyard, "rollback", "staging", "--dry-run", "--json")
    assert planned.code == 0, planned.err
    plan = planned.json()
    assert (plan["outcome"], plan["action"], plan["from"], plan["to"]) == (
        "planned", "redeploy", second, first)
    assert world.service("staging")["taskDefinition"] == second  # the dry run wrote nothing

    result = world.run(shipyard, "rollback", "staging", "--json")
    assert result.code == 0, result.out + result.err
    report = result.json()
    assert report["outcome"] == "succeeded", report
    assert world.service("staging")["taskDefinition"] == first
    assert world.served_version(8081) == "1.1.0"
    # the deployment judged is the one the rollback's UpdateService made, and it is PRIMARY
    assert (report["deployment_id"], "PRIMARY", first) in deployments(world, "staging")
    # nothing was deregistered: 1.2.0's definition can be deployed again
    assert world.task_definitions("staging") == registered


def test_a_deployment_in_progress_is_stopped_back_to_the_one_it_replaced(world, shipyard
                                                                         ) -> None:
    running = world.service("staging")["taskDefinition"]  # 1.1.0's, after the rollback
    image = world.push(shipyard, "1.3.0", kind="unhealthy")  # never healthy: stays in progress
    started = world.run(shipyard, "deploy", "staging", "--image", image, "--no-wait", "--json")
    assert started.code == 0, started.out + started.err
    bad = started.json()["report"]["task_definition"]

    result = world.run(shipyard, "rollback", "staging", "--json")
    assert result.code == 0, result.out + result.err
    report = result.json()
    assert (report["action"], report["from"], report["to"]) == ("stop", bad, running), report
    assert report["stopping"] == started.json()["report"]["deployment_id"]
    assert world.service("staging")["taskDefinition"] == running
    assert world.served_version(8081) == "1.1.0"
    assert bad in world.task_definitions("staging")  # stopped, not deregistered


def test_blue_green_rollback_redeploys_the_previous_revision(world, shipyard) -> None:
    first = deploy(world, shipyard, "production", "1.1.0", "--approve-traffic")
    deploy(world, shipyard, "production", "1.2.0", "--approve-traffic")
    assert world.served_version(80) == "1.2.0"
    codedeploy = world.client("codedeploy")
    group = {"applicationName": world.name, "deploymentGroupName": f"{world.name}-production"}
    before = codedeploy.list_deployments(**group)["deployments"]

    planned = world.run(shipyard, "rollback", "production", "--dry-run", "--json")
    assert planned.code == 0, planned.out + planned.err
    assert planned.json()["to"] == first["report"]["task_definition"]
    assert codedeploy.list_deployments(**group)["deployments"] == before  # none created

    result = world.run(shipyard, "rollback", "production", "--yes", "--json")
    assert result.code == 0, result.out + result.err
    report = result.json()
    assert (report["action"], report["to"]) == ("redeploy",
                                                first["report"]["task_definition"]), report
    assert report["deployment_id"].startswith("d-")
    assert world.served_version(80) == "1.1.0"


def test_a_blue_green_deployment_in_progress_is_stopped_with_rollback(world, shipyard
                                                                      ) -> None:
    image = world.push(shipyard, "1.3.0", kind="unhealthy")  # its task set never gets healthy
    started = world.run(shipyard, "deploy", "production", "--image", image, "--no-wait",
                        "--yes", "--json")
    assert started.code == 0, started.out + started.err
    ident = started.json()["report"]["deployment_id"]
    status = world.run(shipyard, "status", "production", "--json")
    assert status.code == 0, status.err
    assert status.json()["codedeploy"].startswith(f"{ident} ")  # status sees it in progress

    result = world.run(shipyard, "rollback", "production", "--yes", "--json")
    assert result.code == 0, result.out + result.err
    report = result.json()
    assert (report["action"], report["stopping"], report["deployment_id"]) == (
        "stop", ident, ident), report
    assert "rolled back" in report["reason"]
    info = world.client("codedeploy").get_deployment(deploymentId=ident)["deploymentInfo"]
    # Stopped, or Failed when its own failure (the task set never healthy) beat the stop to
    # it: either way ended and rolled back, which is what the rollback waited for.
    assert info["status"] in ("Stopped", "Failed") and info.get("rollbackInfo"), info
    assert world.served_version(80) == "1.1.0"
