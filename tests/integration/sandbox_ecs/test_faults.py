"""Fault knobs (SSM parameters under /shipyard-sandbox/faults/ecs/) make new tasks of an
image exit at start or fail their health check, the image unchanged."""

from __future__ import annotations

import json
import uuid

import pytest

from .conftest import REPOSITORY, wait_for
from .test_tasks import stopped

pytestmark = pytest.mark.integration


def test_knobs_make_an_image_exit_at_start_or_fail_its_health_check(world):
    digest = world.client("ecr").describe_images(repositoryName=REPOSITORY)[
        "imageDetails"][0]["imageDigest"]
    image = f"{world.image.rsplit(':', 1)[0]}@{digest}"  # other tests name it by tag
    knob = f"/shipyard-sandbox/faults/ecs/{uuid.uuid4().hex[:8]}"
    ssm, ecs = world.client("ssm"), world.client("ecs")
    family = f"knob-{uuid.uuid4().hex[:6]}"
    definition = world.register(family, [{
        "name": "app", "image": image, "command": ["sleep 600"], "stopTimeout": 2,
        "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "retries": 1}}])

    def set_knob(fault: dict) -> None:
        ssm.put_parameter(Name=knob, Type="String", Overwrite=True,
                          Value=json.dumps({"image": image, **fault}))

    def health_of(arn: str, status: str) -> dict:
        return wait_for(f"the task to be {status}", lambda: (
            t := world.task(arn))["healthStatus"] == status and t)

    try:
        set_knob({"fault": "exit-at-start", "exitCode": 7})
        done = stopped(world, world.run(definition)["taskArn"])
        assert (done["stopCode"], done["stoppedReason"]) == (
            "EssentialContainerExited", "Essential container in task exited")
        assert done["containers"][0]["exitCode"] == 7
        assert knob in done["containers"][0]["reason"]
        set_knob({"fault": "fail-health-check"})
        failing = world.run(definition)["taskArn"]
        assert knob in health_of(failing, "UNHEALTHY")["containers"][0]["reason"]
        ecs.stop_task(cluster=world.cluster, task=failing)
    finally:
        ssm.delete_parameter(Name=knob)
    healthy = world.run(definition)["taskArn"]  # the same definition, without a knob
    health_of(healthy, "HEALTHY")
    ecs.stop_task(cluster=world.cluster, task=healthy)
    stopped(world, healthy)
