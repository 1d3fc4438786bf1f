"""`sandbox down` stops every task: no process, forwarder, mount or task folder is left."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from shipyard_sandbox import control

from .conftest import make_world, processes_with, push_image, wait_for

pytestmark = pytest.mark.integration


def inside(state: Path) -> list[str]:
    """What still uses `state`: processes with their cwd or root there, and mounts."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        for link in ("cwd", "root"):
            try:
                if os.readlink(entry / link).startswith(str(state)):
                    found.append(f"process {entry.name} ({link})")
            except OSError:
                continue
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    return found + [line for line in mounts if str(state) in line]


def test_sandbox_down_leaves_nothing_of_its_tasks(busybox_layers, tmp_path: Path) -> None:
    state = tmp_path / "sandbox"
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    endpoints, _ = control.up(state, region="ap-northeast-2")
    try:
        env = endpoints.environment()
        world = make_world(env, push_image(env, busybox_layers, tmp_path / "image", "down/bb"))
        definition = world.register("down", [{
            "name": "web", "portMappings": [{"containerPort": 8080}],
            "command": [f"httpd -p 8080 -h /www; sleep 600; echo {marker}"]}])
        world.client("ecs").create_service(
            cluster=world.cluster, serviceName="down", taskDefinition=definition,
            desiredCount=2, launchType="FARGATE", networkConfiguration=world.network)
        arn = world.run(definition)["taskArn"]
        wait_for("three tasks running", lambda: len(processes_with(marker)) == 3
                 and world.task(arn)["lastStatus"] == "RUNNING")
        assert inside(state)  # the check sees tasks while they run
    finally:
        control.down(state)
    assert processes_with(marker) == []
    assert inside(state) == []
    assert not any((state / "ecs" / "tasks").iterdir())
