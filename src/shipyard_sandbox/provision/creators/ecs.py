"""AWS::ECS::Cluster, TaskDefinition and Service through ECS's API."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.aws import Aws, Created, camel, error_code


def cluster(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    ecs, name = aws("ecs"), props.get("ClusterName", token)
    found = ecs.describe_clusters(clusters=[name])["clusters"]
    if found and found[0]["status"] == "ACTIVE":
        return name, "exists", ""
    ecs.create_cluster(**camel(props))
    return name, "created", ""


def task_definition(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    ecs, family = aws("ecs"), props.get("Family", token)
    try:  # Shipyard's deploys register later revisions; any one means the bootstrap is done
        arn = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        return arn["taskDefinitionArn"], "exists", ""
    except ClientError as exc:
        if error_code(exc) not in ("ClientException", "InvalidParameterException"):
            raise
    registered = ecs.register_task_definition(**camel(props))["taskDefinition"]
    return registered["taskDefinitionArn"], "created", ""


def service(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    ecs, name = aws("ecs"), props.get("ServiceName", token)
    cluster = props.get("Cluster", "default")
    found = ecs.describe_services(cluster=cluster, services=[name])["services"]
    if found and found[0]["status"] == "ACTIVE":
        return found[0]["serviceArn"], "exists", ""
    params = camel(props)
    for key in ("desiredCount", "healthCheckGracePeriodSeconds"):
        if key in params:
            params[key] = int(params[key])
    for balancer in params.get("loadBalancers", []):
        balancer["containerPort"] = int(balancer["containerPort"])
    service = ecs.create_service(**params)["service"]
    return service["serviceArn"], "created", ""


