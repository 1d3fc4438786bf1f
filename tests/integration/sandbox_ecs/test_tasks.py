"""RunTask, DescribeTasks, StopTask and ListTasks with tasks that run as real processes."""

from __future__ import annotations

import ipaddress
import json
import uuid

import pytest

from .conftest import dumped, processes_with, wait_for

pytestmark = pytest.mark.integration


def stopped(world, arn: str) -> dict:
    return wait_for("the task to stop",
                    lambda: (t := world.task(arn))["lastStatus"] == "STOPPED" and t)


def test_a_task_runs_its_output_reaches_cloudwatch_and_secrets_stay_out_of_the_api(world):
    tag = uuid.uuid4().hex[:8]
    secret_value = f"s3cr3t-{tag}"
    secrets = world.client("secretsmanager")
    arn = secrets.create_secret(Name=f"ecs/{tag}", SecretString=json.dumps(
        {"API_KEY": secret_value, "OTHER": "x"}))["ARN"]
    world.client("ssm").put_parameter(Name=f"/ecs/{tag}", Value=f"param-{tag}",
                                      Type="SecureString")
    definition = world.register(f"hello-{tag}", [{
        "name": "app", "essential": True,
        "command": ["echo hello from $APP_VERSION; echo key=$API_KEY; echo param=$PARAM; "
                    "echo oops >&2; exit 3"],
        "environment": [{"name": "APP_VERSION", "value": "2.0.0"}],
        "secrets": [{"name": "API_KEY", "valueFrom": f"{arn}:API_KEY::"},
                    {"name": "PARAM", "valueFrom": f"/ecs/{tag}"}]}])
    task = world.run(definition)
    assert task["lastStatus"] == "PROVISIONING"
    done = stopped(world, task["taskArn"])
    assert done["stopCode"] == "EssentialContainerExited"
    assert done["stoppedReason"] == "Essential container in task exited"
    container = done["containers"][0]
    assert (container["exitCode"], container["lastStatus"]) == (3, "STOPPED")
    assert container["imageDigest"].startswith("sha256:")  # the tag, pinned at launch
    lines = world.log_lines(f"hello-{tag}/app/{done['taskArn'].split('/')[-1]}")
    # stdout in order; stderr is read apart, so its line may come anywhere (as in Docker)
    assert [line for line in lines if line != "oops"] == [
        "hello from 2.0.0", f"key={secret_value}", f"param=param-{tag}"]
    assert "oops" in lines
    address = next(d["value"] for d in done["attachments"][0]["details"]
               if d["name"] == "privateIPv4Address")
    assert ipaddress.ip_address(address) in ipaddress.ip_network("127.100.0.0/16")
    described = dumped(world.client("ecs").describe_tasks(cluster=world.cluster,
                                                          tasks=[task["taskArn"]]))
    assert secret_value not in described and f"param-{tag}" not in described


def test_stop_task_ends_the_process_and_a_foreign_sidecar_is_reported_not_run(world):
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    definition = world.register(f"long-{marker}", [
        {"name": "app", "command": [f"echo up; sleep 600; echo {marker}"]},
        {"name": "otel", "image": "public.ecr.aws/aws-observability/aws-otel-collector:latest",
         "essential": False}])
    task = world.run(definition)
    running = wait_for("the task to run",
                       lambda: (t := world.task(task["taskArn"]))["lastStatus"] == "RUNNING"
                       and t)
    assert processes_with(marker)
    otel = next(c for c in running["containers"] if c["name"] == "otel")
    assert "not in the sandbox registry" in otel["reason"]
    listed = world.client("ecs").list_tasks(cluster=world.cluster)["taskArns"]
    assert task["taskArn"] in listed
    world.client("ecs").stop_task(cluster=world.cluster, task=task["taskArn"],
                                  reason="enough")
    done = stopped(world, task["taskArn"])
    assert (done["stopCode"], done["stoppedReason"]) == ("UserInitiated", "enough")
    assert done["containers"][0]["exitCode"] == 137  # sh as PID 1 ignores SIGTERM
    assert processes_with(marker) == []
    assert task["taskArn"] not in world.client("ecs").list_tasks(
        cluster=world.cluster)["taskArns"]


def test_health_check_runs_in_the_task_and_sets_health_status(world):
    definition = world.register(f"web-{uuid.uuid4().hex[:8]}", [{
        "name": "web", "command": ["exec httpd -f -p 8080 -h /www"],
        "portMappings": [{"containerPort": 8080}],
        "healthCheck": {"command": ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/"],
                        "interval": 5, "timeout": 2, "retries": 2}}])
    task = world.run(definition)
    healthy = wait_for("the task to be healthy",
                       lambda: (t := world.task(task["taskArn"]))["healthStatus"] == "HEALTHY"
                       and t)
    assert healthy["containers"][0]["healthStatus"] == "HEALTHY"
    world.client("ecs").stop_task(cluster=world.cluster, task=task["taskArn"])
    assert stopped(world, task["taskArn"])["stopCode"] == "UserInitiated"


def test_an_image_missing_from_the_registry_fails_to_pull(world):
    definition = world.register(f"missing-{uuid.uuid4().hex[:8]}", [{
        "name": "app", "image": world.image.rsplit(":", 1)[0] + ":no-such-tag"}])
    done = stopped(world, world.run(definition)["taskArn"])
    assert done["stopCode"] == "TaskFailedToStart"
    assert done["stoppedReason"].startswith("CannotPullContainerError:")


def test_arm64_runs_the_host_variant_and_says_so_and_a_foreign_image_cannot_start(
        world, busybox_layers, tmp_path):
    from shipyard_sandbox.runtime.images import host_platform

    from .conftest import images, push_image

    family = f"arch-{uuid.uuid4().hex[:8]}"
    other = "ARM64" if host_platform() == "linux/amd64" else "X86_64"
    definition = world.register(family, [{"name": "app", "command": ["echo ran"]}],
                                runtimePlatform={"cpuArchitecture": other,
                                                 "operatingSystemFamily": "LINUX"})
    done = stopped(world, world.run(definition)["taskArn"])
    assert done["containers"][0]["exitCode"] == 0
    note = {a["name"]: a["value"] for a in done.get("attributes", [])}["sandbox.platform"]
    assert host_platform() in note and "without emulation" in note
    foreign = push_image(world.env, busybox_layers, tmp_path / "foreign", "ecs/busybox",
                         platform=images.FOREIGN[host_platform()], tag=f"foreign-{family}")
    definition = world.register(f"{family}-foreign", [{"name": "app", "image": foreign}])
    done = stopped(world, world.run(definition)["taskArn"])
    assert done["stopCode"] == "TaskFailedToStart"
    assert done["stoppedReason"].startswith("CannotPullContainerError:")
    assert "this host runs" in done["stoppedReason"]
