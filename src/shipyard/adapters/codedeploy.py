"""CodeDeploy: the deployment group and its deployments; the calls a blue/green deploy makes
(create one from an AppSpec, continue it at Ready, stop it with rollback) and the reads that
follow it (the deployment and its ECS target)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shipyard.adapters.aws import Aws, call, translated

_ABSENT_GROUP = ("ApplicationDoesNotExistException", "DeploymentGroupDoesNotExistException")


class CodeDeploy:
    """The CodeDeploy calls Shipyard makes, with errors translated."""

    def __init__(self, aws: Aws) -> None:
        self.client = aws.client("codedeploy")
        self._target_ids: dict[str, str] = {}
        # API calls made, retries included: a follow holds its budget (calls a second) in these
        self.calls = 0
        events = getattr(getattr(self.client, "meta", None), "events", None)
        if events is not None:
            events.register("before-call.codedeploy", self._count)

    def _count(self, **_: Any) -> None:
        self.calls += 1

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        """GetDeployment's deploymentInfo."""
        with translated("codedeploy:GetDeployment"):
            return dict(self.client.get_deployment(deploymentId=deployment_id)[
                "deploymentInfo"])

    def deployment_ids(self, application: str, group: str, statuses: list[str],
                       limit: int = 50) -> list[str]:
        """The group's deployments in `statuses`, newest first (ListDeployments' order); at
        most `limit`, a page each 100 ids."""
        ids: list[str] = []
        token = ""
        for _ in range(max(1, -(-limit // 100))):
            with translated("codedeploy:ListDeployments"):
                page = self.client.list_deployments(
                    applicationName=application, deploymentGroupName=group,
                    includeOnlyStatuses=statuses, **({"nextToken": token} if token else {}))
            ids += page.get("deployments", [])
            token = page.get("nextToken", "")
            if not token or len(ids) >= limit:
                break
        return ids[:limit]

    def stop_deployment(self, deployment_id: str, roll_back: bool = True) -> str | None:
        """StopDeployment; with `roll_back` (autoRollbackEnabled), traffic goes back to the
        original task set. Its status ("Pending" while it stops), or None when the deployment
        had already ended (CodeDeploy refuses to stop it then)."""
        answer = call("codedeploy:StopDeployment", lambda: self.client.stop_deployment(
            deploymentId=deployment_id, autoRollbackEnabled=roll_back),
            absent=("DeploymentAlreadyCompletedException",))
        return str(answer.get("status", "")) if answer is not None else None

    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None:
        """The deployment's ECS target (lifecycle events, task sets and their traffic
        weights), or None before CodeDeploy has one."""
        target_id = self._target_ids.get(deployment_id)
        if target_id is None:  # an ECS deployment has one target, for good: listed once
            with translated("codedeploy:ListDeploymentTargets"):
                ids = self.client.list_deployment_targets(deploymentId=deployment_id).get(
                    "targetIds", [])
            if not ids:
                return None
            target_id = self._target_ids[deployment_id] = str(ids[0])
        with translated("codedeploy:GetDeploymentTarget"):
            target = self.client.get_deployment_target(deploymentId=deployment_id,
                                                       targetId=target_id)["deploymentTarget"]
        return dict(target.get("ecsTarget") or {}) or None

    def deployment_group(self, application: str, group: str) -> dict[str, Any] | None:
        """GetDeploymentGroup's deploymentGroupInfo, or None when the application or the group
        does not exist."""
        answer = call("codedeploy:GetDeploymentGroup", lambda: self.client.get_deployment_group(
            applicationName=application, deploymentGroupName=group), absent=_ABSENT_GROUP)
        return dict(answer["deploymentGroupInfo"]) if answer else None

    def deployment_config(self, name: str) -> dict[str, Any] | None:
        """GetDeploymentConfig's deploymentConfigInfo, or None when there is no such config."""
        answer = call("codedeploy:GetDeploymentConfig", lambda: self.client.get_deployment_config(
            deploymentConfigName=name), absent=("DeploymentConfigDoesNotExistException",))
        return dict(answer["deploymentConfigInfo"]) if answer else None

    def deployments(self, deployment_ids: Sequence[str]) -> list[dict[str, Any]]:
        """BatchGetDeployments' deploymentsInfo, 25 ids a call (the API's limit)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(deployment_ids), 25):
            with translated("codedeploy:BatchGetDeployments"):
                found += self.client.batch_get_deployments(
                    deploymentIds=list(deployment_ids[start:start + 25])).get(
                    "deploymentsInfo", [])
        return [dict(info) for info in found]

    def create_deployment(self, application: str, group: str, appspec: str, sha256: str,
                          deployment_config: str | None, description: str) -> str:
        """CreateDeployment of an AppSpec given as content (revisionType AppSpecContent); the
        new deployment's id. Without `deployment_config` the group's own applies."""
        request: dict[str, Any] = {
            "applicationName": application, "deploymentGroupName": group,
            "revision": {"revisionType": "AppSpecContent",
                         "appSpecContent": {"content": appspec, "sha256": sha256}},
            "description": description}
        if deployment_config:
            request["deploymentConfigName"] = deployment_config
        with translated("codedeploy:CreateDeployment"):
            return str(self.client.create_deployment(**request)["deploymentId"])

    def continue_deployment(self, deployment_id: str, wait_type: str = "READY_WAIT") -> bool:
        """ContinueDeployment: let a deployment waiting at Ready shift production traffic.
        False when it was no longer at Ready (stopped or continued since it was last read):
        the follow's next look says what it became."""
        answer = call("codedeploy:ContinueDeployment", lambda: self.client.continue_deployment(
            deploymentId=deployment_id, deploymentWaitType=wait_type),
            absent=("DeploymentIsNotInReadyStateException",))
        return answer is not None
