"""`shipyard status` against fakes: the image's version from its labels, the deployments or
task sets with counts, the listener weights, CodeDeploy in progress, and a missing service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shipyard.config import Config, EnvironmentSettings
from shipyard.errors import NotFoundError
from shipyard.usecases.context import Context
from shipyard.usecases.status import environment_status, forward_weights

REGISTRY = "127.0.0.1:5000"
DIGEST = "sha256:" + "ab" * 32
CONFIG_DIGEST = "sha256:" + "cd" * 32
TD = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/gp:7"
LB = "arn:aws:elasticloadbalancing:ap-northeast-2:1:loadbalancer/app/gp/1"
BLUE = "arn:aws:elasticloadbalancing:ap-northeast-2:1:targetgroup/gp-blue/1"
GREEN = "arn:aws:elasticloadbalancing:ap-northeast-2:1:targetgroup/gp-green/2"


class Fakes:
    """ECS, ECR, ELBv2, CodeDeploy and the registry of one environment."""

    def __init__(self, service: dict[str, Any] | None, image: str,
                 labels: dict[str, str] | None = None, in_progress: list[str] = ()) -> None:
        self.described, self.image, self.labels = service, image, labels or {}
        self.in_progress = list(in_progress)

    # ECS
    def service(self, cluster: str, name: str) -> dict[str, Any] | None:
        return self.described

    def task_definition(self, arn: str) -> dict[str, Any]:
        return {"taskDefinitionArn": arn, "revision": 7, "containerDefinitions": [
            {"name": "sidecar", "image": "public.ecr.aws/x/otel:1", "essential": False},
            {"name": "web", "image": self.image}]}

    # ECR and the registry
    def image_manifest(self, repository: str, digest: str) -> tuple[str, str]:
        assert (repository, digest) == ("gp", DIGEST)
        return json.dumps({"config": {"digest": CONFIG_DIGEST}}), "manifest"

    def login(self, account: str) -> Any:
        return self

    def for_host(self, host: str) -> Any:
        return None

    def __call__(self, host: str, **options: Any) -> Any:  # the registry factory
        return self

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def get_small_blob(self, repository: str, digest: str) -> bytes:
        assert digest == CONFIG_DIGEST
        return json.dumps({"architecture": "amd64",
                           "config": {"Labels": self.labels}}).encode()

    # ELBv2
    def target_groups(self, arns: list[str]) -> list[dict[str, Any]]:
        return [{"TargetGroupArn": arn, "LoadBalancerArns": [LB]} for arn in arns]

    def listeners(self, load_balancer_arn: str) -> list[dict[str, Any]]:
        return [{"ListenerArn": "l-80", "Protocol": "HTTP", "Port": 80},
                {"ListenerArn": "l-9", "Protocol": "HTTP", "Port": 9}]

    def rules(self, listener_arn: str) -> list[dict[str, Any]]:
        if listener_arn == "l-9":  # forwards elsewhere: not the service's traffic
            return [{"IsDefault": True, "Actions": [{"Type": "forward", "TargetGroupArn":
                                                     "arn:x:targetgroup/other/3"}]}]
        return [{"IsDefault": True, "Actions": [{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": BLUE, "Weight": 90},
                             {"TargetGroupArn": GREEN, "Weight": 10}]}}]}]

    # CodeDeploy
    def deployment_ids(self, application: str, group: str, statuses: list[str],
                       limit: int = 50) -> list[str]:
        return self.in_progress[:limit]

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        return {"deploymentId": deployment_id, "status": "InProgress"}


def settings(**changes: Any) -> Config:
    values: dict[str, Any] = dict(cluster="gp", service="gp", task_definition=Path("td.json"),
                                  container_name="web", container_port=8080)
    return Config(environments={"production": EnvironmentSettings(**(values | changes))})


def run(fakes: Fakes, **changes: Any):
    ctx = Context(env={"AWS_ACCOUNT_ID": "123456789012", "SHIPYARD_REGISTRY": REGISTRY,
                       "ECR_REPOSITORY": "gp"}, region="ap-northeast-2",
                  registry_factory=fakes, ecs=fakes, ecr=fakes, elbv2=fakes,
                  codedeploy=fakes, sts=None)
    return environment_status("production", settings(**changes), ctx)


def rolling_service() -> dict[str, Any]:
    return {"taskDefinition": TD, "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
            "deploymentController": {"type": "ECS"},
            "loadBalancers": [{"targetGroupArn": BLUE}],
            "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": TD,
                             "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
                             "rolloutState": "COMPLETED"}],
            "events": [{"createdAt": f"t{n}", "message": f"event {n}"} for n in range(9, 0, -1)]}


def test_a_rolling_service_s_image_version_deployments_weights_and_events() -> None:
    result = run(Fakes(rolling_service(), f"{REGISTRY}/gp@{DIGEST}",
                       {"org.opencontainers.image.version": "1.4.0"}))
    assert (result.revision, result.digest, result.version, result.note) == (7, DIGEST,
                                                                             "1.4.0", "")
    assert result.image == f"{REGISTRY}/gp@{DIGEST}"  # the web container, not the sidecar
    assert [(r.status, r.task_definition, r.running, r.desired, r.state)
            for r in result.rows] == [("PRIMARY", "gp:7", 2, 2, "COMPLETED")]
    assert [(r.listener, r.rule, r.weights) for r in result.routes] == [
        ("HTTP:80", "default", (("gp-blue", 90.0), ("gp-green", 10.0)))]
    assert [message for _, message in result.events] == [f"event {n}" for n in (9, 8, 7, 6, 5)]
    assert result.codedeploy is None
    assert json.loads(json.dumps(result.to_json()))["routes"][0]["weights"][1] == {
        "target_group": "gp-green", "percent": 10.0}


def test_an_image_without_the_label_or_outside_the_registry_says_why() -> None:
    unlabeled = run(Fakes(rolling_service(), f"{REGISTRY}/gp@{DIGEST}"))
    assert unlabeled.version == "" and "no org.opencontainers.image.version" in unlabeled.note
    outside = run(Fakes(rolling_service(), f"quay.invalid/gp@{DIGEST}"))
    assert outside.digest == DIGEST and "outside 127.0.0.1:5000" in outside.note


def test_a_code_deploy_service_shows_task_sets_and_the_deployment_in_progress() -> None:
    service = rolling_service() | {
        "deploymentController": {"type": "CODE_DEPLOY"},
        "taskSets": [{"id": "ecs-svc/blue", "status": "PRIMARY", "taskDefinition": TD,
                      "computedDesiredCount": 2, "runningCount": 2, "pendingCount": 0,
                      "stabilityStatus": "STEADY_STATE", "scale": {"value": 100.0},
                      "loadBalancers": [{"targetGroupArn": BLUE}]},
                     {"id": "ecs-svc/green", "status": "ACTIVE", "taskDefinition": TD[:-1] + "8",
                      "computedDesiredCount": 2, "runningCount": 1, "pendingCount": 1,
                      "stabilityStatus": "STABILIZING", "scale": {"value": 100.0},
                      "loadBalancers": [{"targetGroupArn": GREEN}]}]}
    result = run(Fakes(service, f"{REGISTRY}/gp@{DIGEST}", in_progress=["d-ABC"]),
                 deployment="blue_green", codedeploy_application="gp",
                 codedeploy_group="gp-production")
    assert [(r.status, r.task_definition, r.running, r.pending, r.scale)
            for r in result.rows] == [("PRIMARY", "gp:7", 2, 0, 100.0),
                                      ("ACTIVE", "gp:8", 1, 1, 100.0)]
    assert (result.codedeploy.id, result.codedeploy.status) == ("d-ABC", "InProgress")
    assert result.to_json()["codedeploy"] == {"id": "d-ABC", "status": "InProgress"}


def test_a_missing_service_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="service gp is not in cluster gp"):
        run(Fakes(None, ""))


def test_a_plain_forward_is_all_the_traffic() -> None:
    assert forward_weights([{"Type": "fixed-response"},
                            {"Type": "forward", "TargetGroupArn": BLUE}]) == [(BLUE, 100.0)]
    assert forward_weights([{"Type": "redirect"}]) == []
