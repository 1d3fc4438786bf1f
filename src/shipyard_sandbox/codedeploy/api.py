"""moto's CodeDeploy API made to run ECS blue/green deployments (`engine`).

moto stores applications, groups and deployments, but a deployment stays `Created`, ids are
UUIDs, and the calls a deployment needs are missing. Patched onto moto's classes here:
- deployment ids in CodeDeploy's form (`d-` and nine characters);
- deployment configs: the predefined ECS ones and `CreateDeploymentConfig` /
  `GetDeploymentConfig` / `ListDeploymentConfigs` / `DeleteDeploymentConfig` for custom ones
  (ECS compute platform, `trafficRoutingConfig`);
- `CreateDeployment` on an ECS application starts a run when the sandbox has a platform to
  run it on (`install(platform)`); `GetDeployment` / `BatchGetDeployments` answer its status,
  `errorInformation`, `rollbackInfo` and status messages;
- `PutLifecycleEventHookExecutionStatus`, `StopDeployment` (with or without
  `autoRollbackEnabled`), `ContinueDeployment` (READY_WAIT only while the deployment is
  `Ready`: a group whose deploymentReadyOption is STOP_DEPLOYMENT waits there);
- an ECS group created without a deployment config has and deploys with
  CodeDeployDefault.ECSAllAtOnce, as CodeDeploy's ECS groups do (moto would give it an EC2
  config);
- `ListDeploymentTargets` / `GetDeploymentTarget` / `BatchGetDeploymentTargets`: the ECS
  target with its lifecycle events and task sets' traffic weights.

This module must only be imported by the sandbox process, never by product code.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import yaml
from moto.codedeploy import models as cd_models
from moto.codedeploy import responses as cd_responses
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult

from shipyard_sandbox.codedeploy.configs import (
    PREDEFINED_ECS,
    ConfigError,
    TrafficRouting,
    parse_traffic_routing,
)
from shipyard_sandbox.codedeploy.engine import HOOK_EVENTS, DeploymentRun, DeploymentSpec, Platform

_lock = threading.RLock()
_ID_CHARACTERS = string.ascii_uppercase + string.digits


class CodeDeployError(JsonRESTError):
    code = 400

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(error_type, message)


@dataclass
class Current:
    """Where the service stands before a deployment: what CodeDeploy finds out itself."""

    original_task_set: str
    original_target_group: str
    replacement_target_group: str


class Environment(Platform, Protocol):
    """The platform, plus the reads a deployment's spec needs."""

    def current(self, cluster: str, service: str, production_listener: str,
                target_group_names: list[str]) -> Current: ...


@dataclass
class _CustomConfig:
    id: str
    routing: TrafficRouting
    create_time: datetime


class CodeDeployBridge:
    """The runs and custom configs of one sandbox; `environment` runs the deployments."""

    def __init__(self, environment: Environment | None) -> None:
        self.environment = environment
        self.runs: dict[str, DeploymentRun] = {}
        self.configs: dict[str, _CustomConfig] = {}

    def routing(self, name: str) -> TrafficRouting:
        if name in PREDEFINED_ECS:
            return PREDEFINED_ECS[name]
        if name in self.configs:
            return self.configs[name].routing
        raise CodeDeployError("DeploymentConfigDoesNotExistException",
                              f"The deployment configuration {name} does not exist.")

    def start_run(self, deployment: Any, account_id: str) -> None:
        """Start the run of a new ECS deployment (nothing when no environment runs them)."""
        if self.environment is None or deployment.application.compute_platform != "ECS":
            return
        spec = self._spec(deployment, account_id)
        run = DeploymentRun(deployment.deployment_id, spec, self.environment,
                            on_change=lambda run: _reflect(deployment, run))
        self.runs[deployment.deployment_id] = run
        run.start()

    def run_of(self, deployment_id: str) -> DeploymentRun:
        run = self.runs.get(deployment_id)
        if run is None:
            raise CodeDeployError("DeploymentDoesNotExistException",
                                  f"The deployment {deployment_id} could not be found.")
        return run

    def stop_all(self) -> None:
        for run in self.runs.values():
            if run.status in ("Created", "InProgress", "Ready"):
                run.stop(roll_back=False)
        for run in self.runs.values():
            run.join(timeout=5)

    def _spec(self, deployment: Any, account_id: str) -> DeploymentSpec:
        group = deployment.deployment_group
        appspec = _appspec(deployment.revision, account_id)
        resource = next(iter(appspec["Resources"][0].values()))["Properties"]
        balancer = resource.get("LoadBalancerInfo") or {}
        service = (group.ecs_services or [{}])[0]
        pair = ((group.load_balancer_info or {}).get("targetGroupPairInfoList") or [{}])[0]
        production = (pair.get("prodTrafficRoute") or {}).get("listenerArns") or [""]
        test = (pair.get("testTrafficRoute") or {}).get("listenerArns") or [None]
        names = [tg.get("name", "") for tg in pair.get("targetGroups") or []]
        current = self.environment.current(service.get("clusterName", ""),  # type: ignore
                                           service.get("serviceName", ""), production[0], names)
        green = group.blue_green_deployment_configuration or {}
        ready = green.get("deploymentReadyOption") or {}
        terminate = green.get("terminateBlueInstancesOnDeploymentSuccess") or {}
        rollback = deployment.auto_rollback_configuration or group.auto_rollback_configuration
        events = set(rollback.get("events") or []) if rollback.get("enabled") else set()
        hooks = {event: function for item in appspec.get("Hooks") or []
                 for event, function in item.items() if event in HOOK_EVENTS}
        return DeploymentSpec(
            cluster=service.get("clusterName", ""), service=service.get("serviceName", ""),
            task_definition=resource["TaskDefinition"],
            container_name=balancer.get("ContainerName", ""),
            container_port=int(balancer.get("ContainerPort", 0)),
            original_task_set=current.original_task_set,
            original_target_group=current.original_target_group,
            replacement_target_group=current.replacement_target_group,
            production_listener=production[0], test_listener=test[0],
            routing=self.routing(_ecs_config_name(deployment.deployment_config_name)),
            hooks=hooks,
            ready_wait_minutes=(int(ready.get("waitTimeInMinutes", 0))
                                if ready.get("actionOnTimeout") == "STOP_DEPLOYMENT" else None),
            termination_wait_minutes=int(terminate.get("terminationWaitTimeInMinutes", 0)),
            rollback_on_failure="DEPLOYMENT_FAILURE" in events,
            rollback_on_alarm="DEPLOYMENT_STOP_ON_ALARM" in events,
            alarms=_alarm_names(group.alarm_configuration))


def _ecs_config_name(name: Any) -> str:
    """The config a deployment runs with: moto gives a group created without one its EC2
    default (an enum); CodeDeploy gives an ECS group CodeDeployDefault.ECSAllAtOnce."""
    if not name or isinstance(name, cd_models.CodeDeployDefault):
        return "CodeDeployDefault.ECSAllAtOnce"
    return str(name)


def _s3_object(location: dict[str, Any], account_id: str) -> str:
    """The text of the S3 object a revision names, from the sandbox's S3."""
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import s3_backends

    try:
        found = s3_backends[account_id]["global"].get_object(
            location.get("bucket", ""), location.get("key", ""), location.get("version"))
    except S3ClientError as exc:
        raise CodeDeployError("RevisionDoesNotExistException",
                              f"The revision s3://{location.get('bucket')}/"
                              f"{location.get('key')} could not be read.") from exc
    if found is None:
        raise CodeDeployError("RevisionDoesNotExistException",
                              f"The revision s3://{location.get('bucket')}/"
                              f"{location.get('key')} does not exist.")
    return found.value.decode("utf-8", "replace")


def _alarm_names(configuration: Any) -> list[str]:
    """The alarms of an enabled alarmConfiguration (moto keeps the request's dict)."""
    if isinstance(configuration, dict):
        enabled, alarms = configuration.get("enabled"), configuration.get("alarms") or []
    else:
        enabled, alarms = getattr(configuration, "enabled", False), getattr(
            configuration, "alarms", [])
    return [str(alarm.get("name")) for alarm in alarms if alarm.get("name")] if enabled else []


def _appspec(revision: dict[str, Any], account_id: str) -> dict[str, Any]:
    """The AppSpec of a revision (AppSpecContent, String or an S3 object; YAML or JSON), as
    CodeDeploy reads it."""
    revision = revision or {}
    content = (revision.get("appSpecContent") or {}).get("content") or \
        (revision.get("string") or {}).get("content")
    if revision.get("revisionType") == "S3":
        content = _s3_object(revision.get("s3Location") or {}, account_id)
    if not content:
        raise CodeDeployError("InvalidRevisionException", "The revision holds no AppSpec; "
                              "give AppSpecContent, String or an S3 location.")
    try:
        document = yaml.safe_load(content)
        resources = document["Resources"]
        properties = next(iter(resources[0].values()))["Properties"]
        if "TaskDefinition" not in properties:
            raise KeyError("TaskDefinition")
    except (yaml.YAMLError, KeyError, IndexError, TypeError, StopIteration) as exc:
        raise CodeDeployError("InvalidRevisionException",
                              f"The AppSpec has no ECS service resource with a TaskDefinition "
                              f"({type(exc).__name__}).") from exc
    return document


def _reflect(deployment: Any, run: DeploymentRun) -> None:
    """The run's progress, as moto's DeploymentInfo holds it."""
    with _lock:
        deployment.status = run.status
        if run.status == "InProgress" and deployment.start_time is None:
            deployment.start_time = datetime.now(UTC)
        if run.status in ("Succeeded", "Failed", "Stopped"):
            deployment.complete_time = datetime.now(UTC)
        deployment.deployment_status_messages = list(run.messages)


def _deployment_id() -> str:
    return "d-" + "".join(secrets.choice(_ID_CHARACTERS) for _ in range(9))


_installed: list[CodeDeployBridge] = []  # the bridge the patches answer from


def install(bridge: CodeDeployBridge) -> None:
    """Patch moto's CodeDeploy to answer from `bridge`. The patches go on once per process;
    a later call only changes the bridge they answer from (a test's sandbox, say)."""
    if _installed:
        _installed[0] = bridge
        return
    _installed.append(bridge)
    _patch()


def _patch() -> None:
    backend_cls, response_cls = cd_models.CodeDeployBackend, cd_responses.CodeDeployResponse
    original_create = backend_cls.create_deployment
    original_info = cd_responses._deployment_info
    original_group_info = cd_responses._deployment_group_info

    def create_deployment(self: Any, application_name: str, deployment_group_name: str,
                          revision: dict[str, Any], deployment_config_name: str | None = None,
                          *args: Any, **kwargs: Any) -> str:
        if deployment_config_name:
            _installed[0].routing(deployment_config_name)  # an unknown config is refused
        with _lock:
            moto_id = original_create(self, application_name, deployment_group_name,
                                      revision, deployment_config_name, *args, **kwargs)
            deployment = self.deployments.pop(moto_id)
            deployment.deployment_id = _deployment_id()
            self.deployments[deployment.deployment_id] = deployment
        try:
            _installed[0].start_run(deployment, self.account_id)
        except CodeDeployError:
            with _lock:
                del self.deployments[deployment.deployment_id]
            raise
        return deployment.deployment_id

    def deployment_info(deployment: Any) -> dict[str, Any]:
        info = original_info(deployment)
        run = _installed[0].runs.get(deployment.deployment_id)
        if run is not None:
            info["errorInformation"] = run.error or {}
            if run.rolled_back:
                info["rollbackInfo"] = {"rollbackMessage": run.messages[-1]}
        return info

    def deployment_group_info(group: Any) -> dict[str, Any]:
        info = original_group_info(group)
        if group.application.compute_platform == "ECS":
            info["deploymentConfigName"] = _ecs_config_name(group.deployment_config_name)
        return info

    def put_lifecycle_event_hook_execution_status(self: Any) -> ActionResult:
        deployment_id = self._get_param("deploymentId")
        execution_id = self._get_param("lifecycleEventHookExecutionId")
        status = self._get_param("status")
        if status not in ("Succeeded", "Failed"):
            raise CodeDeployError("InvalidLifecycleEventHookExecutionStatusException",
                                  f"The status {status} is not Succeeded or Failed.")
        if not _installed[0].run_of(deployment_id).put_hook_status(execution_id, status):
            raise CodeDeployError("LifecycleEventAlreadyCompletedException",
                                  f"The lifecycle event hook execution {execution_id} is not "
                                  "waiting for a status.")
        return ActionResult({"lifecycleEventHookExecutionId": execution_id})

    def stop_deployment(self: Any) -> ActionResult:
        run = _installed[0].run_of(self._get_param("deploymentId"))
        if run.status not in ("Created", "InProgress", "Ready"):
            raise CodeDeployError("DeploymentAlreadyCompletedException",
                                  f"The deployment {run.id} has already completed.")
        run.stop(roll_back=bool(self._get_param("autoRollbackEnabled")))
        return ActionResult({"status": "Pending", "statusMessage": "Stopping Pending. "
                                                                   "Stopping the deployment."})

    def continue_deployment(self: Any) -> EmptyResult:
        run = _installed[0].run_of(self._get_param("deploymentId"))
        wait_type = self._get_param("deploymentWaitType") or "READY_WAIT"
        if wait_type == "READY_WAIT" and run.status != "Ready":  # as CodeDeploy refuses it
            raise CodeDeployError("DeploymentIsNotInReadyStateException",
                                  f"The deployment {run.id} is not in a ready state "
                                  f"({run.status}).")
        run.continue_deployment(wait_type)
        return EmptyResult()

    def create_deployment_config(self: Any) -> ActionResult:
        name = self._get_param("deploymentConfigName")
        if not name:
            raise CodeDeployError("DeploymentConfigNameRequiredException",
                                  "The deployment configuration name is required.")
        if name in PREDEFINED_ECS or name in _installed[0].configs:
            raise CodeDeployError("DeploymentConfigAlreadyExistsException",
                                  f"The deployment configuration {name} already exists.")
        if self._get_param("computePlatform") != "ECS":
            raise CodeDeployError("InvalidComputePlatformException",
                                  "The sandbox models the ECS compute platform only.")
        try:
            routing = parse_traffic_routing(self._get_param("trafficRoutingConfig"))
        except ConfigError as exc:
            raise CodeDeployError("InvalidTrafficRoutingConfigurationException",
                                  str(exc)) from exc
        config = _CustomConfig(secrets.token_hex(16), routing, datetime.now(UTC))
        _installed[0].configs[name] = config
        return ActionResult({"deploymentConfigId": config.id})

    def get_deployment_config(self: Any) -> ActionResult:
        name = self._get_param("deploymentConfigName")
        routing = _installed[0].routing(name)
        custom = _installed[0].configs.get(name)
        return ActionResult({"deploymentConfigInfo": {
            "deploymentConfigId": custom.id if custom else name,
            "deploymentConfigName": name, "computePlatform": "ECS",
            "createTime": custom.create_time if custom else datetime(2019, 11, 26, tzinfo=UTC),
            "trafficRoutingConfig": routing.to_api()}})

    def list_deployment_configs(self: Any) -> ActionResult:
        return ActionResult({"deploymentConfigsList": [*PREDEFINED_ECS, *_installed[0].configs]})

    def delete_deployment_config(self: Any) -> EmptyResult:
        name = self._get_param("deploymentConfigName")
        if name in PREDEFINED_ECS:
            raise CodeDeployError("InvalidOperationException",
                                  "A predefined deployment configuration cannot be deleted.")
        _installed[0].configs.pop(name, None)
        return EmptyResult()

    def list_deployment_targets(self: Any) -> ActionResult:
        run = _installed[0].run_of(self._get_param("deploymentId"))
        return ActionResult({"targetIds": [f"{run.spec.cluster}:{run.spec.service}"]})

    def get_deployment_target(self: Any) -> ActionResult:
        run = _installed[0].run_of(self._get_param("deploymentId"))
        return ActionResult({"deploymentTarget": _ecs_target(run)})

    def batch_get_deployment_targets(self: Any) -> ActionResult:
        run = _installed[0].run_of(self._get_param("deploymentId"))
        return ActionResult({"deploymentTargets": [_ecs_target(run)]})

    backend_cls.create_deployment = create_deployment
    cd_responses._deployment_info = deployment_info
    cd_responses._deployment_group_info = deployment_group_info
    for handler in (put_lifecycle_event_hook_execution_status, stop_deployment,
                    continue_deployment, create_deployment_config, get_deployment_config,
                    list_deployment_configs, delete_deployment_config, list_deployment_targets,
                    get_deployment_target, batch_get_deployment_targets):
        setattr(response_cls, handler.__name__, handler)


def _ecs_target(run: DeploymentRun) -> dict[str, Any]:
    spec = run.spec
    task_sets = [{"identifer": spec.original_task_set, "trafficWeight":
                  float(run.weights[spec.original_target_group]), "taskSetLabel": "Blue",
                  "targetGroup": {"name": spec.original_target_group.split("/")[-2]
                                  if spec.original_target_group.count("/") >= 2
                                  else spec.original_target_group}}]
    if run.replacement:
        task_sets.append({"identifer": run.replacement, "trafficWeight":
                          float(run.weights[spec.replacement_target_group]),
                          "taskSetLabel": "Green"})
    # each task set's counts and status, as CodeDeploy reports them from ECS
    environment = _installed[0].environment
    counts_of = getattr(environment, "task_set_counts", None)
    counts = counts_of(spec.cluster, spec.service) if counts_of is not None else {}
    for task_set in task_sets:
        task_set.update(counts.get(str(task_set["identifer"]), {}))
    status = {"Created": "Pending", "InProgress": "InProgress"}.get(run.status, run.status)
    return {"deploymentTargetType": "ECSTarget", "ecsTarget": {
        "deploymentId": run.id, "targetId": f"{spec.cluster}:{spec.service}",
        "lastUpdatedAt": datetime.now(UTC), "status": status,
        "lifecycleEvents": [event.to_api() for event in run.events],
        "taskSetsInfo": task_sets}}

