"""ECS: clusters, services and task definitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shipyard.adapters.aws import Aws, translated


class Ecs:
    """The ECS calls Shipyard makes, with errors translated."""

    def __init__(self, aws: Aws) -> None:
        self.client = aws.client("ecs")

    def cluster(self, name: str) -> dict[str, Any] | None:
        """The cluster, or None when it does not exist or is not ACTIVE."""
        with translated("ecs:DescribeClusters"):
            clusters = self.client.describe_clusters(clusters=[name])["clusters"]
        found = next((c for c in clusters if c.get("status") == "ACTIVE"), None)
        return found

    def service(self, cluster: str, name: str) -> dict[str, Any] | None:
        """The service, or None when it does not exist (or was deleted: INACTIVE)."""
        with translated("ecs:DescribeServices"):
            response = self.client.describe_services(cluster=cluster, services=[name])
        services = [s for s in response.get("services", []) if s.get("status") != "INACTIVE"]
        return services[0] if services else None

    def services(self, cluster: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Every service of the cluster (ListServices, then DescribeServices ten at a time),
        INACTIVE ones left out; at most `limit`. Empty when the cluster does not exist."""
        arns: list[str] = []
        token = ""
        for _ in range(max(1, -(-limit // 100))):  # bounded: one page per 100 wanted
            with translated("ecs:ListServices"):
                page = self.client.list_services(cluster=cluster, maxResults=100,
                                                 **({"nextToken": token} if token else {}))
            arns += page.get("serviceArns", [])
            token = page.get("nextToken", "")
            if not token or len(arns) >= limit:
                break
        found: list[dict[str, Any]] = []
        for start in range(0, min(len(arns), limit), 10):
            with translated("ecs:DescribeServices"):
                response = self.client.describe_services(cluster=cluster,
                                                         services=arns[start:start + 10])
            found += [s for s in response.get("services", []) if s.get("status") != "INACTIVE"]
        return found

    def task_definition(self, arn: str) -> dict[str, Any]:
        """A registered task definition, with its tags."""
        with translated("ecs:DescribeTaskDefinition"):
            response = self.client.describe_task_definition(taskDefinition=arn,
                                                            include=["TAGS"])
        definition = dict(response["taskDefinition"])
        if response.get("tags"):
            definition["tags"] = response["tags"]
        return definition

    def task_definition_arns(self, family: str, limit: int = 100,
                             status: str = "ACTIVE") -> list[str]:
        """The revisions of `family` in `status`, newest first; at most `limit` (a page each
        100). By default the ACTIVE ones: a service cannot be pointed at a deregistered
        (INACTIVE) one."""
        arns: list[str] = []
        token = ""
        for _ in range(max(1, -(-limit // 100))):  # bounded: one page per 100 wanted
            with translated("ecs:ListTaskDefinitions"):
                page = self.client.list_task_definitions(
                    familyPrefix=family, status=status, sort="DESC",
                    maxResults=min(100, limit), **({"nextToken": token} if token else {}))
            # familyPrefix is a prefix on some endpoints: keep this family's revisions only.
            arns += [arn for arn in page.get("taskDefinitionArns", [])
                     if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]
            token = page.get("nextToken", "")
            if not token or len(arns) >= limit:
                break
        # Sorted here too: not every endpoint honours `sort` (moto lists oldest first).
        return sorted(arns, key=lambda arn: int(arn.rsplit(":", 1)[-1]), reverse=True)[:limit]

    def stopped_tasks(self, cluster: str, started_by: str, limit: int = 10) -> list[dict[str, Any]]:
        """The latest stopped tasks a deployment started (ECS names the deployment's id in
        each task's `startedBy`), newest first; at most `limit`."""
        return self._stopped(cluster, limit, startedBy=started_by)

    def stopped_service_tasks(self, cluster: str, service: str,
                              limit: int = 10) -> list[dict[str, Any]]:
        """The service's latest stopped tasks (ECS keeps them about an hour), newest first;
        at most `limit`."""
        return self._stopped(cluster, limit, serviceName=service)

    def _stopped(self, cluster: str, limit: int, **which: str) -> list[dict[str, Any]]:
        with translated("ecs:ListTasks"):
            arns = self.client.list_tasks(cluster=cluster, desiredStatus="STOPPED",
                                          maxResults=min(100, limit), **which)["taskArns"]
        if not arns:
            return []
        with translated("ecs:DescribeTasks"):
            tasks = self.client.describe_tasks(cluster=cluster, tasks=arns[:limit])["tasks"]
        return sorted(tasks, key=lambda t: str(t.get("stoppedAt", "")), reverse=True)

    def deregister_task_definition(self, arn: str) -> None:
        """DeregisterTaskDefinition: the revision becomes INACTIVE (running tasks go on)."""
        with translated("ecs:DeregisterTaskDefinition"):
            self.client.deregister_task_definition(taskDefinition=arn)

    def delete_task_definitions(self, arns: list[str]) -> Iterator[dict[str, Any]]:
        """DeleteTaskDefinitions, 10 INACTIVE revisions a call; yields each response."""
        for start in range(0, len(arns), 10):
            with translated("ecs:DeleteTaskDefinitions"):
                yield self.client.delete_task_definitions(
                    taskDefinitions=arns[start:start + 10])

    def register_task_definition(self, definition: dict[str, Any]) -> str:
        """Register a rendered task definition; its ARN (family:revision)."""
        with translated("ecs:RegisterTaskDefinition"):
            answer = self.client.register_task_definition(**definition)
        return str(answer["taskDefinition"]["taskDefinitionArn"])

    def update_service(self, cluster: str, service: str, task_definition: str,
                       force_new_deployment: bool = False,
                       desired_count: int | None = None) -> dict[str, Any]:
        """UpdateService to a task definition (and a desired count, when given); the service
        as the answer describes it."""
        count = {} if desired_count is None else {"desiredCount": desired_count}
        with translated("ecs:UpdateService"):
            return dict(self.client.update_service(
                cluster=cluster, service=service, taskDefinition=task_definition,
                forceNewDeployment=force_new_deployment, **count)["service"])

    def scale_service(self, cluster: str, service: str, desired_count: int) -> dict[str, Any]:
        """UpdateService of the desired count alone (what a CODE_DEPLOY service allows)."""
        with translated("ecs:UpdateService"):
            return dict(self.client.update_service(
                cluster=cluster, service=service, desiredCount=desired_count)["service"])
