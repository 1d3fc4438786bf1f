"""`shipyard sandbox status`: what the running sandbox is running, in one document.

Read as a user's code would read it, through the AWS APIs of the sandbox (ECS, ELB,
CodeDeploy), plus two things only the sandbox knows: where each load balancer listener is
served (`listeners.json`) and the process id of each running container (the runtime's
records under the state folder). Every list is bounded (`MAX_ITEMS`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipyard_sandbox.control import endpoints_of, listeners, read_state
from shipyard_sandbox.runtime.leftovers import SUFFIX, start_time

MAX_ITEMS = 100  # per cluster, service, listener list: a sandbox is small


class NotRunning(Exception):
    """No sandbox runs in the state folder."""


def collect(state_dir: Path) -> dict[str, Any]:
    state = read_state(state_dir)
    if state is None:
        raise NotRunning(f"no sandbox is running (state {state_dir}); start one with: "
                         "shipyard sandbox up")
    endpoints = endpoints_of(state)
    client = _clients(endpoints.environment())
    ecs, elbv2 = client("ecs"), client("elbv2")
    pids = _container_pids(state_dir / "ecs" / "tasks")
    return {"endpoints": {"aws": endpoints.aws_endpoint, "registry": endpoints.registry},
            "clusters": [_cluster(ecs, arn, pids) for arn in
                         ecs.list_clusters(maxResults=MAX_ITEMS)["clusterArns"]],
            "listeners": [_listener(elbv2, entry) for entry in listeners(state_dir)],
            "deployments": _deployments(client("codedeploy"))}


def _clients(env: dict[str, str]) -> Callable[[str], Any]:
    import boto3

    session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            region_name=env["AWS_REGION"])
    return lambda service: session.client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def _cluster(ecs: Any, arn: str, pids: dict[str, dict[str, int]]) -> dict[str, Any]:
    name = arn.rsplit("/", 1)[-1]
    service_arns = ecs.list_services(cluster=arn, maxResults=MAX_ITEMS)["serviceArns"]
    services = ecs.describe_services(cluster=arn, services=service_arns)["services"] \
        if service_arns else []
    task_arns = ecs.list_tasks(cluster=arn, maxResults=MAX_ITEMS)["taskArns"]
    tasks = ecs.describe_tasks(cluster=arn, tasks=task_arns)["tasks"] if task_arns else []
    return {"name": name, "services": [_service(s) for s in services],
            "tasks": [_task(t, pids) for t in tasks]}


def _service(service: dict[str, Any]) -> dict[str, Any]:
    return {"name": service["serviceName"],
            "controller": (service.get("deploymentController") or {}).get("type", "ECS"),
            "desired": service.get("desiredCount", 0), "running": service.get("runningCount", 0),
            "pending": service.get("pendingCount", 0),
            "task_definition": _short(service.get("taskDefinition", "")),
            "deployments": [{"id": d.get("id"), "status": d.get("status"),
                             "rollout": d.get("rolloutState"),
                             "task_definition": _short(d.get("taskDefinition", "")),
                             "running": d.get("runningCount", 0),
                             "desired": d.get("desiredCount", 0),
                             "failed_tasks": d.get("failedTasks", 0)}
                            for d in service.get("deployments", [])],
            "last_event": (service.get("events") or [{}])[0].get("message")}


def _task(task: dict[str, Any], pids: dict[str, dict[str, int]]) -> dict[str, Any]:
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    details = [d for a in task.get("attachments", []) for d in a.get("details", [])]
    address = next((d["value"] for d in details if d.get("name") == "privateIPv4Address"), None)
    return {"id": task_id, "group": task.get("group"),
            "task_definition": _short(task.get("taskDefinitionArn", "")),
            "status": task.get("lastStatus"), "health": task.get("healthStatus"),
            "address": address,
            "containers": [{"name": c["name"], "status": c.get("lastStatus"),
                            "health": c.get("healthStatus"),
                            "pid": pids.get(task_id, {}).get(c["name"])}
                           for c in task.get("containers", [])]}


def _listener(elbv2: Any, entry: dict[str, Any]) -> dict[str, Any]:
    weights: dict[str, int] = {}
    from botocore.exceptions import ClientError

    try:
        found = elbv2.describe_listeners(ListenerArns=[entry["listener_arn"]])["Listeners"]
    except ClientError:  # deleted since listeners.json was written
        found = []
    for action in (found[0].get("DefaultActions", []) if found else []):
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or (
            [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
            if action.get("TargetGroupArn") else [])
        total = sum(g.get("Weight", 1) for g in groups) or 1
        weights.update({_short(g["TargetGroupArn"]): round(100 * g.get("Weight", 1) / total)
                        for g in groups})
    return {"load_balancer": entry.get("load_balancer"), "port": entry.get("port"),
            "url": entry.get("url"), "variable": entry.get("variable"), "weights": weights}


def _deployments(codedeploy: Any) -> list[dict[str, Any]]:
    found = []
    for application in codedeploy.list_applications()["applications"][:MAX_ITEMS]:
        groups = codedeploy.list_deployment_groups(applicationName=application)
        for group in groups["deploymentGroups"][:MAX_ITEMS]:
            ids = codedeploy.list_deployments(
                applicationName=application, deploymentGroupName=group,
                includeOnlyStatuses=["Created", "Queued", "InProgress", "Ready"])["deployments"]
            if ids:
                infos = codedeploy.batch_get_deployments(deploymentIds=ids[:MAX_ITEMS])
                found += [{"id": i["deploymentId"], "application": application,
                           "group": group, "status": i["status"]}
                          for i in infos["deploymentsInfo"]]
    return found


def _container_pids(tasks_dir: Path) -> dict[str, dict[str, int]]:
    """{task id: {container name: pid}} of the containers still running."""
    pids: dict[str, dict[str, int]] = {}
    for record in sorted(tasks_dir.glob(f"*/containers/*/container{SUFFIX}"))[:10 * MAX_ITEMS]:
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        pid = data.get("pid")
        if isinstance(pid, int) and start_time(pid) == data.get("start"):
            pids.setdefault(record.parents[2].name, {})[record.parent.name] = pid
    return pids


def _short(arn: str) -> str:
    """The readable end of an ARN: family:revision, a target group's name."""
    if ":targetgroup/" in arn:
        return arn.split(":targetgroup/", 1)[1].split("/", 1)[0]
    return arn.rsplit("/", 1)[-1]


def render(document: dict[str, Any]) -> list[str]:
    """The status as lines for a person."""
    lines = [f"aws {document['endpoints']['aws']}  registry {document['endpoints']['registry']}"]
    for cluster in document["clusters"]:
        lines.append(f"cluster {cluster['name']}")
        for service in cluster["services"]:
            rollout = ", ".join(f"{d['status']} {d['rollout'] or '-'} {d['task_definition']} "
                                f"{d['running']}/{d['desired']}"
                                for d in service["deployments"]) or "no deployment"
            lines.append(f"  service {service['name']} ({service['controller']}): "
                         f"{service['running']}/{service['desired']} running; {rollout}")
        for task in cluster["tasks"]:
            pids = ", ".join(f"{c['name']} pid {c['pid']}" for c in task["containers"]
                             if c["pid"]) or "no process"
            lines.append(f"  task {task['id'][:12]} {task['task_definition']} {task['status']} "
                         f"{task['health'] or ''} {task['address'] or ''} ({pids})")
    for listener in document["listeners"]:
        weights = ", ".join(f"{name} {share}%" for name, share in listener["weights"].items())
        lines.append(f"listener {listener['load_balancer']}:{listener['port']} "
                     f"{listener['url']} -> {weights or 'no target group'}")
    lines += [f"deployment {d['id']} {d['application']}/{d['group']} {d['status']}"
              for d in document["deployments"]]
    return lines
