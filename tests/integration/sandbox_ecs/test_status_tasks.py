"""`shipyard sandbox status` shows a running task with its container's live process id."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from shipyard.cli import main

from .conftest import wait_for

pytestmark = pytest.mark.integration


def test_status_shows_a_running_task_and_its_process(world, sandbox_dir, capsys) -> None:
    name = f"status-{uuid.uuid4().hex[:6]}"
    definition = world.register(name, [{"name": "app", "command": ["exec sleep 300"]}])
    task = world.run(definition)
    task_id = task["taskArn"].rsplit("/", 1)[1]
    wait_for("the task to run", lambda: world.task(task["taskArn"])["lastStatus"] == "RUNNING")

    def shown():
        main(["sandbox", "status", "--json", "--state-dir", str(sandbox_dir)])
        document = json.loads(capsys.readouterr().out)
        cluster = next(c for c in document["clusters"] if c["name"] == world.cluster)
        return next((t for t in cluster["tasks"] if t["id"] == task_id), None)

    listed = wait_for("the task in the status", shown)
    container = listed["containers"][0]
    assert listed["status"] == "RUNNING" and container["name"] == "app"
    assert isinstance(container["pid"], int)
    os.kill(container["pid"], 0)  # a live process: raises if it is not
    assert listed["address"].startswith("127.100.")
    world.client("ecs").stop_task(cluster=world.cluster, task=task["taskArn"])
