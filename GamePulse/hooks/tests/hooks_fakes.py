"""Fakes of the AWS clients the hooks call (CodeDeploy, ECS, ECR, Secrets Manager, SSM) and
of Lambda's context, answering as those services do."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ACCOUNT, REGION = "123456789012", "ap-northeast-2"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
DIGEST = "sha256:" + "a" * 64
TASK_DEFINITION = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/gamepulse-production:7"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:gamepulse/production/app-AbCdEf"
APPSPEC_YAML = f"""# made by shipyard
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: {TASK_DEFINITION}
        LoadBalancerInfo:
          ContainerName: gamepulse
          ContainerPort: 8080
Hooks:
  - BeforeInstall: CodeDeployHook_gamepulse-before-install
"""


class NotFound(Exception):
    pass


class Exceptions:
    ImageNotFoundException = RepositoryNotFoundException = ResourceNotFoundException = NotFound


def definition(**changes: Any) -> dict[str, Any]:
    app = {"name": "gamepulse", "image": f"{REGISTRY}/gamepulse@{DIGEST}",
           "portMappings": [{"containerPort": 8080}],
           "secrets": [{"name": "GAMEPULSE_API_KEY", "valueFrom": f"{SECRET}:API_KEY::"}],
           "environment": [{"name": "PORT", "value": "8080"}]}
    sidecar = {"name": "otel-collector",
               "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1"}
    base = {"family": "gamepulse-production", "revision": 7, "status": "ACTIVE",
            "runtimePlatform": {"cpuArchitecture": "ARM64"},
            "containerDefinitions": [app, sidecar]}
    base.update(changes)
    return base


@dataclass
class FakeAws:
    """CodeDeploy, ECS, ECR, Secrets Manager and SSM as the hooks see them."""

    appspec: str = APPSPEC_YAML
    revision_type: str = "AppSpecContent"
    task_definition: dict[str, Any] = field(default_factory=definition)
    images: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        DIGEST: {"imageDigest": DIGEST, "imageTags": ["1.4.0", "1.4", "latest",
                                                      "sha-3f2a9c1"]}})
    manifests: dict[str, dict[str, Any]] = field(default_factory=lambda: {DIGEST: {
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"platform": {"os": "linux", "architecture": "amd64"}},
            {"platform": {"os": "linux", "architecture": "arm64"}}]}})
    secrets: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        SECRET: {"Name": "gamepulse/production/app", "ARN": SECRET}})
    parameters: set[str] = field(default_factory=set)
    reported: list[dict[str, str]] = field(default_factory=list)
    exceptions: type = Exceptions

    # CodeDeploy
    def get_deployment(self, deploymentId: str) -> dict[str, Any]:
        content = {"revisionType": self.revision_type}
        if self.revision_type == "AppSpecContent":
            content["appSpecContent"] = {"sha256": "x"}  # as AWS answers: no content here
        return {"deploymentInfo": {"deploymentId": deploymentId, "applicationName": "gamepulse",
                                   "revision": content}}

    def get_application_revision(self, applicationName: str,
                                 revision: dict[str, Any]) -> dict[str, Any]:
        return {"revision": {"revisionType": "AppSpecContent",
                             "appSpecContent": {"content": self.appspec}}}

    def put_lifecycle_event_hook_execution_status(self, **kwargs: str) -> dict[str, str]:
        self.reported.append(kwargs)
        return {"lifecycleEventHookExecutionId": kwargs["lifecycleEventHookExecutionId"]}

    # ECS
    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:
        assert taskDefinition == TASK_DEFINITION
        return {"taskDefinition": self.task_definition}

    # ECR
    def describe_images(self, repositoryName: str, imageIds: list[dict[str, str]]
                        ) -> dict[str, Any]:
        wanted = imageIds[0]
        for detail in self.images.values():
            if wanted.get("imageDigest") == detail["imageDigest"] or wanted.get(
                    "imageTag") in detail["imageTags"]:
                return {"imageDetails": [{**detail, "repositoryName": repositoryName}]}
        raise NotFound(f"{repositoryName} {wanted}")

    def batch_get_image(self, repositoryName: str, imageIds: list[dict[str, str]],
                        acceptedMediaTypes: list[str]) -> dict[str, Any]:
        digest = imageIds[0]["imageDigest"]
        if digest not in self.manifests:
            return {"images": [], "failures": [{"failureReason": "Requested image not found"}]}
        return {"images": [{"imageManifest": json.dumps(self.manifests[digest])}]}

    # Secrets Manager and SSM
    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        if SecretId not in self.secrets:
            raise NotFound(SecretId)
        return self.secrets[SecretId]

    def describe_parameters(self, ParameterFilters: list[dict[str, Any]]) -> dict[str, Any]:
        name = ParameterFilters[0]["Values"][0]
        return {"Parameters": [{"Name": name}] if name in self.parameters else []}


@dataclass
class FakeContext:
    remaining_ms: int = 60_000
    invoked_function_arn: str = (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
                                 "CodeDeployHook_gamepulse-before-install")

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
