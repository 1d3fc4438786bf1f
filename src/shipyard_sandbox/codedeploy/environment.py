"""What a sandbox CodeDeploy deployment acts on: the sandbox's own ECS, ELB, Lambda, CloudWatch.

As CodeDeploy does on AWS, it works through the other services' APIs: the ECS task set calls
(CreateTaskSet, UpdateServicePrimaryTaskSet, DeleteTaskSet), the listener's forward weights
(ModifyListener), the hook functions (Lambda, invoked asynchronously) and the group's alarms
(DescribeAlarms). The calls go over the sandbox's own endpoint with botocore, so they pass
through every patch a user's call passes through. Only "is the replacement task set healthy"
is asked of the sandbox's ECS directly (`task_set_health`), which is what CodeDeploy's
Install step waits for and no public API answers in one call.

Fault knob: an SSM parameter under `/shipyard-sandbox/faults/codedeploy/` whose value is
`{"fault": "hook-failed", "function": "NAME"}` makes every hook naming that function report
Failed without running, as a hook whose checks fail would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.codedeploy.api import CodeDeployError, Current
from shipyard_sandbox.codedeploy.engine import DeploymentSpec, HookError

# Fault knobs, as the sandbox's ECS keeps its own (shipyard_sandbox.ecs.faults): SSM
# parameters set through the sandbox's API, so a test or a demo needs nothing but boto3.
HOOK_KNOBS = "/shipyard-sandbox/faults/codedeploy/"


class SandboxEnvironment:
    """`api.Environment` on the running sandbox."""

    def __init__(self, client: Callable[[str], Any], task_set_health: Callable[[str], str],
                 invoke: Callable[[str, dict[str, Any]], Any]) -> None:
        self._client, self._health, self._invoke = client, task_set_health, invoke

    def current(self, cluster: str, service: str, production_listener: str,
                target_group_names: list[str]) -> Current:
        ecs, elbv2 = self._client("ecs"), self._client("elbv2")
        found = ecs.describe_services(cluster=cluster, services=[service])["services"]
        if not found:
            raise CodeDeployError("InvalidECSServiceException",
                                  f"The ECS service {service} in cluster {cluster} does not "
                                  "exist.")
        primary = next((t for t in found[0].get("taskSets", [])
                        if t.get("status") == "PRIMARY"), None)
        if primary is None:
            raise CodeDeployError("InvalidECSServiceException",
                                  f"The ECS service {service} has no primary task set; its "
                                  "deployment controller must be CODE_DEPLOY.")
        groups = elbv2.describe_target_groups(Names=target_group_names)["TargetGroups"]
        arns = [g["TargetGroupArn"] for g in groups]
        serving = (primary.get("loadBalancers") or [{}])[0].get("targetGroupArn")
        if serving not in arns or len(arns) != 2:
            raise CodeDeployError("InvalidTargetGroupPairException",
                                  f"The primary task set of {service} is not behind one of "
                                  f"the group's target groups {', '.join(target_group_names)}.")
        other = next(arn for arn in arns if arn != serving)
        return Current(primary["taskSetArn"], serving, other)

    def create_task_set(self, spec: DeploymentSpec) -> str:
        ecs = self._client("ecs")
        service = ecs.describe_services(cluster=spec.cluster, services=[spec.service])[
            "services"][0]
        primary = next(t for t in service.get("taskSets", []) if t.get("status") == "PRIMARY")
        options = {key: primary[key] for key in ("launchType", "networkConfiguration",
                                                 "platformVersion") if primary.get(key)}
        try:
            answer = ecs.create_task_set(
                cluster=spec.cluster, service=spec.service, taskDefinition=spec.task_definition,
                loadBalancers=[{"targetGroupArn": spec.replacement_target_group,
                                "containerName": spec.container_name,
                                "containerPort": spec.container_port}],
                scale={"unit": "PERCENT", "value": 100.0}, **options)
        except ClientError as exc:
            raise HookError(f"CreateTaskSet failed: {exc}") from exc
        return str(answer["taskSet"]["taskSetArn"])

    def task_set_state(self, task_set: str) -> str:
        return self._health(task_set)

    def task_set_counts(self, cluster: str, service: str) -> dict[str, dict[str, Any]]:
        """Each task set of the service by ARN: desiredCount, runningCount, pendingCount and
        status, as GetDeploymentTarget's taskSetsInfo reports them ({} when ECS cannot say)."""
        try:
            sets = self._client("ecs").describe_task_sets(cluster=cluster,
                                                          service=service)["taskSets"]
        except ClientError:
            return {}
        return {t["taskSetArn"]: {"desiredCount": t.get("computedDesiredCount", 0),
                                  "runningCount": t.get("runningCount", 0),
                                  "pendingCount": t.get("pendingCount", 0),
                                  "status": t.get("status", "")} for t in sets}

    def route(self, listener_arn: str, weights: dict[str, int]) -> None:
        self._client("elbv2").modify_listener(ListenerArn=listener_arn, DefaultActions=[{
            "Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()]}}])

    def promote(self, spec: DeploymentSpec, task_set: str) -> None:
        self._client("ecs").update_service_primary_task_set(
            cluster=spec.cluster, service=spec.service, primaryTaskSet=task_set)

    def delete_task_set(self, spec: DeploymentSpec, task_set: str) -> None:
        try:
            self._client("ecs").delete_task_set(cluster=spec.cluster, service=spec.service,
                                                taskSet=task_set, force=True)
        except ClientError as exc:
            if "NotFound" not in str(exc):
                raise

    def invoke_hook(self, function: str, payload: dict[str, str]) -> None:
        knob = self._hook_knob(function)
        if knob is not None:  # reported as the hook would report it, through the API
            self._client("codedeploy").put_lifecycle_event_hook_execution_status(
                deploymentId=payload["DeploymentId"],
                lifecycleEventHookExecutionId=payload["LifecycleEventHookExecutionId"],
                status="Failed")
            return
        self._invoke(function, payload)

    def _hook_knob(self, function: str) -> str | None:
        """The name of a `hook-failed` fault knob naming `function`, if one is set: an SSM
        parameter under HOOK_KNOBS whose value is {"fault": "hook-failed", "function": F}."""
        answer = self._client("ssm").get_parameters_by_path(Path=HOOK_KNOBS, Recursive=True,
                                                           MaxResults=10)
        for parameter in answer.get("Parameters", []):
            try:
                knob = json.loads(parameter["Value"])
            except ValueError:
                continue
            named = str(knob.get("function", "")) if isinstance(knob, dict) else ""
            if knob.get("fault") == "hook-failed" and named and (
                    function == named or function.endswith(f":function:{named}")):
                return str(parameter["Name"])
        return None

    def alarms_in_alarm(self, names: list[str]) -> list[str]:
        alarms = self._client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        return [a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM"]


def lambda_invoker() -> Callable[[str, dict[str, Any]], None]:
    """Hooks invoked through the sandbox's Lambda, asynchronously (as an Event); what stops
    the invocation (an unknown function, a runtime the sandbox cannot run, throttling) fails
    the lifecycle event, as on CodeDeploy."""
    from moto.awslambda.exceptions import LambdaClientError

    from shipyard_sandbox.lambdas import bridge
    from shipyard_sandbox.lambdas.runner import InvokeRefused

    def invoke(function: str, payload: dict[str, Any]) -> None:
        try:
            bridge.invoke(function, payload, wait=False)
        except (LambdaClientError, InvokeRefused) as exc:
            why = getattr(exc, "message", None) or str(exc)
            raise HookError(f"{function} could not be invoked: {why}") from exc

    return invoke
