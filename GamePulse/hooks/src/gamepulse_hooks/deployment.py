"""What a CodeDeploy ECS deployment deploys: its AppSpec's task definition, container and port.

The AppSpec comes from GetDeployment's revision (AppSpecContent or String); when that answer
holds no content (the AppSpec is stored as an application revision), from
GetApplicationRevision. Lambda's runtime has no YAML library, so a YAML AppSpec is read for
the three keys the hooks need (TaskDefinition, ContainerName, ContainerPort) line by line;
JSON is parsed as JSON. An S3 revision is refused: GamePulse deploys with AppSpecContent, and
reading S3 would need a permission the hooks do not have.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gamepulse_hooks.checks import CheckFailed

_YAML_KEY = r"^\s*-?\s*[\"']?{key}[\"']?\s*:\s*[\"']?([^\"'\s#,}}]+)"


@dataclass(frozen=True)
class Target:
    """The deployment's ECS target, as its AppSpec names it."""

    deployment_id: str
    application: str
    task_definition: str  # ARN (or family:revision)
    container_name: str
    container_port: int


def _content(revision: dict[str, Any]) -> str:
    for key in ("appSpecContent", "string"):
        content = (revision.get(key) or {}).get("content")
        if content:
            return str(content)
    return ""


def appspec_fields(text: str) -> dict[str, str]:
    """TaskDefinition, ContainerName and ContainerPort of an AppSpec in JSON or YAML."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        try:
            properties = next(iter(document["Resources"][0].values()))["Properties"]
        except (KeyError, IndexError, TypeError, StopIteration, AttributeError):
            return {}
        balancer = properties.get("LoadBalancerInfo") or {}
        found = {"TaskDefinition": properties.get("TaskDefinition"),
                 "ContainerName": balancer.get("ContainerName"),
                 "ContainerPort": balancer.get("ContainerPort")}
        return {key: str(value) for key, value in found.items() if value not in (None, "")}
    found = {}
    for key in ("TaskDefinition", "ContainerName", "ContainerPort"):
        match = re.search(_YAML_KEY.format(key=key), text, re.MULTILINE)
        if match:
            found[key] = match.group(1)
    return found


def read_target(codedeploy: Any, deployment_id: str) -> Target:
    """The deployment's target, from CodeDeploy; CheckFailed when it cannot be told."""
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    revision = info.get("revision") or {}
    if revision.get("revisionType") == "S3":
        raise CheckFailed(f"deployment {deployment_id} takes its AppSpec from S3; these hooks "
                          "read AppSpecContent or String revisions only")
    content = _content(revision)
    if not content:
        stored = codedeploy.get_application_revision(
            applicationName=info["applicationName"], revision=revision)
        content = _content(stored.get("revision") or {})
    fields = appspec_fields(content)
    missing = [key for key in ("TaskDefinition", "ContainerName", "ContainerPort")
               if key not in fields]
    if missing:
        raise CheckFailed(f"the AppSpec of deployment {deployment_id} has no "
                          f"{', '.join(missing)}")
    if not fields["ContainerPort"].isdigit():
        raise CheckFailed(f"the AppSpec of deployment {deployment_id} has a ContainerPort "
                          "that is not a number")
    return Target(deployment_id, str(info.get("applicationName", "")),
                  fields["TaskDefinition"], fields["ContainerName"],
                  int(fields["ContainerPort"]))


def task_definition(ecs: Any, target: Target) -> dict[str, Any]:
    """The task definition the deployment deploys, as DescribeTaskDefinition answers it."""
    return dict(ecs.describe_task_definition(taskDefinition=target.task_definition)
                ["taskDefinition"])


def container(definition: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((c for c in definition.get("containerDefinitions", [])
                 if c.get("name") == name), None)
