"""`shipyard rollback`: on the sandbox runtime, after a completed deploy the previous version
is served again through the listener; a deployment in progress is stopped by returning to
the one it was replacing; `--dry-run` changes nothing; nothing is ever deregistered.

The tests of this module share one world and run in order: staging gets 1.1.0 then 1.2.0,
production (blue/green) the same; then a deployment in progress is stopped on both (an
unhealthy 1.3.0 on staging, 1.4.0 waiting at Ready on production).
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


def test_a_blue_green_deployment_waiting_at_ready_is_stopped_with_rollback(world, shipyard
                                                                          ) -> None:
    # A group of the same service that waits at Ready (two minutes at the sandbox's time
    # scale): the deployment is surely in progress when the rollback looks.
    codedeploy = world.client("codedeploy")
    info = codedeploy.get_deployment_group(applicationName=world.name, deploymentGroupName=(
        f"{world.name}-production"))["deploymentGroupInfo"]
    ready = f"{world.name}-ready"
    kept = ("serviceRoleArn", "deploymentConfigName", "deploymentStyle", "loadBalancerInfo",
            "ecsServices", "autoRollbackConfiguration")
    codedeploy.create_deployment_group(
        applicationName=world.name, deploymentGroupName=ready, **{k: info[k] for k in kept},
        blueGreenDeploymentConfiguration=info["blueGreenDeploymentConfiguration"] | {
            "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT",
                                      "waitTimeInMinutes": 60}})
    toml = world.repo.project / "shipyard.toml"
    toml.write_text(toml.read_text().replace(f'codedeploy_group = "{world.name}-production"',
                                             f'codedeploy_group = "{ready}"'))
    world.push(shipyard, "1.4.0")
    started = world.run(shipyard, "deploy", "production", "--version", "1.4.0", "--no-wait",
                        "--yes", "--json")
    assert started.code == 0, started.out + started.err
    ident = started.json()["report"]["deployment_id"]
    world.wait_for("the deployment to wait at Ready", lambda: codedeploy.get_deployment(
        deploymentId=ident)["deploymentInfo"]["status"] == "Ready")
    assert (world.served_version(80), world.served_version(8080)) == ("1.1.0", "1.4.0")
    status = world.run(shipyard, "status", "production", "--json")
    assert status.code == 0, status.err
    assert status.json()["codedeploy"] == {"id": ident, "status": "Ready"}

    result = world.run(shipyard, "rollback", "production", "--yes", "--json")
    assert result.code == 0, result.out + result.err
    report = result.json()
    assert (report["action"], report["stopping"], report["deployment_id"]) == (
        "stop", ident, ident), report
    assert "stopped and was rolled back" in report["reason"]
    info = codedeploy.get_deployment(deploymentId=ident)["deploymentInfo"]
    assert info["status"] == "Stopped" and info["rollbackInfo"], info
    assert world.served_version(80) == "1.1.0"
