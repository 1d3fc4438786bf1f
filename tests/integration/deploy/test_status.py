"""`shipyard status`: what the sandbox's services run, read back: the image and its version
label, the task definition, the deployments or task sets with counts, the listeners' weights
and the last events; exit 14 for a service that does not exist (rollback's too). It never
writes.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def test_a_rolling_service_s_status(world, shipyard) -> None:
    image = world.push(shipyard, "1.1.0")
    deployed = world.run(shipyard, "deploy", "staging", "--version", "1.1.0", "--json")
    assert deployed.code == 0, deployed.out + deployed.err
    service = world.service("staging")

    result = world.run(shipyard, "status", "staging", "--json")
    assert result.code == 0, result.err
    status = result.json()
    assert (status["version"], status["image"], status["digest"]) == (
        "1.1.0", image, image.rpartition("@")[2])
    assert status["task_definition"] == service["taskDefinition"]
    assert status["revision"] == int(service["taskDefinition"].rsplit(":", 1)[1])
    assert (status["controller"], status["running"], status["desired"]) == ("ECS", 2, 2)
    primary = next(row for row in status["rows"] if row["status"] == "PRIMARY")
    assert (primary["running"], primary["desired"], primary["state"]) == (2, 2, "COMPLETED")
    assert {"listener": "HTTP:8081", "rule": "default", "weights": [
        {"target_group": f"{world.name}-staging", "percent": 100.0}]} in status["routes"]
    assert [e["message"] for e in status["events"]] == [
        e["message"] for e in service["events"][:5]]
    assert world.service("staging")["deployments"] == service["deployments"]  # read only

    plain = world.run(shipyard, "status", "staging")
    assert plain.code == 0, plain.err
    assert "version 1.1.0" in plain.out
    assert f"listener HTTP:8081 (default): {world.name}-staging 100%" in plain.out


def test_a_blue_green_service_s_status_shows_task_sets_and_weights(world, shipyard) -> None:
    world.push(shipyard, "1.1.0")
    deployed = world.run(shipyard, "deploy", "production", "--version", "1.1.0", "--yes",
                         "--approve-traffic", "--json")
    assert deployed.code == 0, deployed.out + deployed.err

    result = world.run(shipyard, "status", "production", "--json")
    assert result.code == 0, result.err
    status = result.json()
    assert (status["controller"], status["version"], status["codedeploy"]) == (
        "CODE_DEPLOY", "1.1.0", None)
    primary = next(row for row in status["rows"] if row["status"] == "PRIMARY")
    assert primary["task_definition"] == deployed.json()["report"]["task_definition"].rsplit(
        "/", 1)[1]
    assert primary["running"] == 2 and primary["scale"] == 100.0
    production = next(r for r in status["routes"] if r["listener"] == "HTTP:80")
    serving = [w for w in production["weights"] if w["percent"] == 100.0]
    assert len(serving) == 1 and serving[0]["target_group"] in (
        f"{world.name}-blue", f"{world.name}-green")


def test_a_service_that_does_not_exist_is_exit_14_for_status_and_rollback(world, shipyard
                                                                          ) -> None:
    project = world.repo.project / "shipyard.toml"
    project.write_text(project.read_text() + f"""
[environments.gone]
cluster = "{world.name}"
service = "{world.name}-gone"
task_definition = "deploy/task-definition.json"
""")
    for command in ("status", "rollback"):
        result = world.run(shipyard, command, "gone", "--json")
        assert result.code == 14, result.out + result.err
        assert result.out == ""
        error = json.loads(result.err)["error"]
        assert error["code"] == "not_found"
        assert error["message"].startswith(f"service {world.name}-gone is not in cluster")
