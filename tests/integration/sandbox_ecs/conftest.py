"""Fixtures for the sandbox's ECS: the session sandbox, a busybox image pushed to it, and the
AWS resources a task needs (cluster, VPC subnet and security group, log group), all made
through boto3 as a user's code would.

The image is the one the runtime's tests build (tests/integration/sandbox_runtime/conftest.py,
loaded by path: pytest gives each folder's conftest its own namespace): the host's static
busybox with sh, httpd, wget, sleep, env and friends; Entrypoint `sh -c`, user `app`.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import BasicAuth, RegistryClient

_spec = importlib.util.spec_from_file_location(
    "sandbox_runtime_images", Path(__file__).parent.parent / "sandbox_runtime" / "conftest.py")
assert _spec and _spec.loader
images = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = images  # its dataclasses look their module up there
_spec.loader.exec_module(images)
REPOSITORY = "ecs/busybox"
WAIT = 30.0  # bounds a hang; every wait ends as soon as its condition holds


@dataclass
class World:
    env: dict[str, str]
    cluster: str
    network: dict[str, Any]
    image: str  # repository:tag in the sandbox registry
    log_group: str

    def client(self, name: str) -> Any:
        return boto3.client(name, region_name=self.env["AWS_REGION"],
                            endpoint_url=self.env["AWS_ENDPOINT_URL"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def register(self, family: str, containers: list[dict[str, Any]], **extra: Any) -> str:
        """A Fargate task definition whose containers log to the world's log group."""
        for container in containers:
            container.setdefault("image", self.image)
            container.setdefault("logConfiguration", {"logDriver": "awslogs", "options": {
                "awslogs-group": self.log_group, "awslogs-region": self.env["AWS_REGION"],
                "awslogs-stream-prefix": family}})
        answer = self.client("ecs").register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512", containerDefinitions=containers, **extra)
        return answer["taskDefinition"]["taskDefinitionArn"]

    def run(self, task_definition: str, **extra: Any) -> dict[str, Any]:
        answer = self.client("ecs").run_task(
            cluster=self.cluster, taskDefinition=task_definition, launchType="FARGATE",
            networkConfiguration=self.network, **extra)
        assert not answer["failures"], answer["failures"]
        return answer["tasks"][0]

    def task(self, arn: str) -> dict[str, Any]:
        return self.client("ecs").describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"][0]

    def service(self, name: str) -> dict[str, Any]:
        return self.client("ecs").describe_services(cluster=self.cluster,
                                                    services=[name])["services"][0]

    def log_lines(self, stream: str) -> list[str]:
        events = self.client("logs").get_log_events(logGroupName=self.log_group,
                                                    logStreamName=stream)["events"]
        return [event["message"] for event in events]


def wait_for(what: str, probe: Callable[[], Any], timeout: float = WAIT) -> Any:
    """probe()'s first truthy answer, polled until `timeout` (which only bounds a hang)."""
    deadline = time.monotonic() + timeout
    answer = None
    while time.monotonic() < deadline:
        answer = probe()
        if answer:
            return answer
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f}s; last answer {answer!r}")


def processes_with(marker: str) -> list[int]:
    """Pids of the processes whose command line holds `marker`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def push_image(env: dict[str, str], layers: list, folder: Path, repository: str, *,
               platform: str | None = None, tag: str = "ecs") -> str:
    """The busybox image (for `platform`, the host's by default) pushed as REPOSITORY:TAG to
    the sandbox of `env`, creating the repository if need be; its reference."""
    folder.mkdir(parents=True, exist_ok=True)
    image = images.write_image(folder, platform or images.host_platform(), layers)
    images.write_layout(folder, [image], as_index=False)
    ecr = World(env, "", {}, "", "").client("ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    with RegistryClient(env["SHIPYARD_REGISTRY"], auth=BasicAuth(user, password)) as client:
        client.push_layout(OciLayout.open(folder), repository, [tag])
    return f"{env['SHIPYARD_REGISTRY']}/{repository}:{tag}"


def make_world(env: dict[str, str], image: str) -> World:
    """A cluster, a subnet and security group, and a log group, in the sandbox of `env`."""
    probe = World(env, "", {}, image, "")
    ec2 = probe.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="100.64.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="100.64.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"ecs-{uuid.uuid4().hex[:8]}",
                                      Description="tasks", VpcId=vpc)["GroupId"]
    cluster = f"ecs-tests-{uuid.uuid4().hex[:6]}"
    probe.client("ecs").create_cluster(clusterName=cluster)
    log_group = f"/ecs/tests-{uuid.uuid4().hex[:6]}"
    probe.client("logs").create_log_group(logGroupName=log_group)
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    return World(env, cluster, network, image, log_group)


@pytest.fixture(scope="session")
def busybox_layers():
    return [images.layer_of(images.base_layer), images.layer_of(images.top_layer)]


@pytest.fixture(scope="session")
def world(sandbox: dict[str, str], busybox_layers,
          tmp_path_factory: pytest.TempPathFactory) -> World:
    images.require_root()
    image = push_image(sandbox, busybox_layers, tmp_path_factory.mktemp("ecs-busybox"),
                       REPOSITORY)
    return make_world(sandbox, image)


@pytest.fixture
def load_balancer(world: World, sandbox_dir: Path):
    """make(groups=1) -> ([target group ARN, ...], listener URL): an ALB whose port-80
    listener forwards to the first of its target groups (health checks on /version.txt,
    every 5 s and a 10 s deregistration delay, AWS time); deleted after the test."""
    with load_balancers(world, sandbox_dir) as make:
        yield make


@contextlib.contextmanager
def load_balancers(world: World, sandbox_dir: Path):
    """The `load_balancer` fixture's maker, for code that is not a test (the benchmark)."""
    from shipyard_sandbox import control

    ec2, elbv2 = world.client("ec2"), world.client("elbv2")
    vpc = ec2.describe_subnets(SubnetIds=world.network["awsvpcConfiguration"]["subnets"])[
        "Subnets"][0]["VpcId"]
    made = []

    def make(groups: int = 1) -> tuple[list[str], str]:
        if not hasattr(world, "alb_subnets"):  # two zones, as an ALB needs; made once
            world.alb_subnets = [ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"100.64.{10 + i}.0/24",
                AvailabilityZone=f"ap-northeast-2{zone}")["Subnet"]["SubnetId"]
                for i, zone in enumerate("ab")]
        tag = uuid.uuid4().hex[:6]
        lb = elbv2.create_load_balancer(Name=f"lb-{tag}", Subnets=world.alb_subnets)[
            "LoadBalancers"][0]["LoadBalancerArn"]
        made.append(lb)
        arns = []
        for number in range(groups):
            arn = elbv2.create_target_group(
                Name=f"tg-{tag}-{number}", Protocol="HTTP", Port=8080, TargetType="ip",
                VpcId=vpc, HealthCheckPath="/version.txt", HealthCheckIntervalSeconds=5,
                HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
            elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
                {"Key": "deregistration_delay.timeout_seconds", "Value": "10"}])
            arns.append(arn)
        listener = elbv2.create_listener(
            LoadBalancerArn=lb, Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": arns[0]}],
        )["Listeners"][0]["ListenerArn"]
        urls = {e["listener_arn"]: e["url"] for e in control.listeners(sandbox_dir)}
        return arns, urls[listener]

    try:
        yield make
    finally:
        for lb in made:
            elbv2.delete_load_balancer(LoadBalancerArn=lb)


def dumped(document: Any) -> str:
    return json.dumps(document, default=str)
