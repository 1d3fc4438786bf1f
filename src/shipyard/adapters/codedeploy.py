"""CodeDeploy: the deployment and its ECS target, read while a blue/green deploy runs."""

from __future__ import annotations

from typing import Any

from shipyard.adapters.aws import Aws, translated


class CodeDeploy:
    """The CodeDeploy calls Shipyard makes, with errors translated."""

    def __init__(self, aws: Aws) -> None:
        self.client = aws.client("codedeploy")

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        """GetDeployment's deploymentInfo."""
        with translated("codedeploy:GetDeployment"):
            return dict(self.client.get_deployment(deploymentId=deployment_id)[
                "deploymentInfo"])

    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None:
        """The deployment's ECS target (lifecycle events, task sets and their traffic
        weights), or None before CodeDeploy has one."""
        with translated("codedeploy:ListDeploymentTargets"):
            ids = self.client.list_deployment_targets(deploymentId=deployment_id).get(
                "targetIds", [])
        if not ids:
            return None
        with translated("codedeploy:GetDeploymentTarget"):
            target = self.client.get_deployment_target(deploymentId=deployment_id,
                                                       targetId=ids[0])["deploymentTarget"]
        return dict(target.get("ecsTarget") or {}) or None
