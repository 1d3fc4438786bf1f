"""The sandbox's CodeDeploy API, driven only through boto3, with a fake ECS/ELB underneath.

moto runs in this process with the CodeDeploy patches installed; the environment a
deployment acts on is a fake that records routes and task sets, and whose hooks answer
through the real API (`PutLifecycleEventHookExecutionStatus`), as a hook Lambda does. The
runs against the sandbox's real ECS and load balancer are tested where those are wired.
"""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from moto.server import ThreadedMotoServer

from shipyard_sandbox import timescale
from shipyard_sandbox.codedeploy import api
from shipyard_sandbox.registry import free_port

pytestmark = pytest.mark.integration
BLUE = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/gp-blue/1"
GREEN = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/gp-green/2"
PROD = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/gp/1/prod"
TEST = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/gp/1/test"
APPSPEC = {"version": 0.0, "Resources": [{"TargetService": {
    "Type": "AWS::ECS::Service", "Properties": {
        "TaskDefinition": "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/gp:7",
        "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8000}}}}],
    "Hooks": [{"BeforeInstall": "CodeDeployHook_before"},
              {"AfterAllowTestTraffic": "CodeDeployHook_e2e"}]}


class FakeEnvironment:
    def __init__(self, client_factory) -> None:
        self.calls: list[tuple] = []
        self.failing_hooks: set[str] = set()
        self._client = client_factory

    def current(self, cluster, service, production_listener, names):
        self.calls.append(("current", cluster, service, production_listener, tuple(names)))
        return api.Current("ts/blue", BLUE, GREEN)

    def create_task_set(self, spec):
        self.calls.append(("create_task_set", spec.task_definition, spec.container_port))
        return "ts/green"

    def task_set_state(self, task_set):
        return "HEALTHY"

    def route(self, listener, weights):
        self.calls.append(("route", listener, weights))

    def promote(self, spec, task_set):
        self.calls.append(("promote", task_set))

    def delete_task_set(self, spec, task_set):
        self.calls.append(("delete_task_set", task_set))

    def invoke_hook(self, function, payload):
        status = "Failed" if function in self.failing_hooks else "Succeeded"
        # as a hook Lambda does: report through the API, from elsewhere, a moment later
        threading.Timer(0.05, lambda: self._client().put_lifecycle_event_hook_execution_status(
            deploymentId=payload["DeploymentId"],
            lifecycleEventHookExecutionId=payload["LifecycleEventHookExecutionId"],
            status=status)).start()

    def alarms_in_alarm(self, names):
        return []


@pytest.fixture(scope="module")
def moto_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def codedeploy(moto_endpoint):
    def client():
        return boto3.client("codedeploy", region_name="ap-northeast-2",
                            endpoint_url=moto_endpoint, aws_access_key_id="sandbox",
                            aws_secret_access_key="sandbox")

    environment = FakeEnvironment(client)
    bridge = api.CodeDeployBridge(environment)
    api.install(bridge)
    before = timescale.factor()
    timescale.set_factor(3000)
    yield client(), environment
    bridge.stop_all()
    api.install(api.CodeDeployBridge(None))  # this process's moto no longer runs fakes
    timescale.set_factor(before)


def _group(cd, name: str, rollback: bool = True) -> None:
    cd.create_application(applicationName=name, computePlatform="ECS")
    cd.create_deployment_group(
        applicationName=name, deploymentGroupName="production",
        serviceRoleArn="arn:aws:iam::123456789012:role/cd",
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
        deploymentStyle={"deploymentType": "BLUE_GREEN",
                         "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        ecsServices=[{"serviceName": "gp-production", "clusterName": "gp"}],
        loadBalancerInfo={"targetGroupPairInfoList": [{
            "targetGroups": [{"name": "gp-blue"}, {"name": "gp-green"}],
            "prodTrafficRoute": {"listenerArns": [PROD]},
            "testTrafficRoute": {"listenerArns": [TEST]}}]},
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE", "terminationWaitTimeInMinutes": 5}},
        autoRollbackConfiguration={"enabled": rollback, "events": ["DEPLOYMENT_FAILURE"]})


def _deploy(cd, application: str) -> str:
    return cd.create_deployment(
        applicationName=application, deploymentGroupName="production",
        revision={"revisionType": "AppSpecContent",
                  "appSpecContent": {"content": json.dumps(APPSPEC)}})["deploymentId"]


def _finished(cd, deployment_id: str) -> dict:
    for _ in range(200):  # bounded: 10 s
        info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info["status"] in ("Succeeded", "Failed", "Stopped"):
            return info
        time.sleep(0.05)
    raise AssertionError(f"deployment {deployment_id} still {info['status']}")


def test_a_deployment_runs_to_success_through_the_api(codedeploy) -> None:
    cd, environment = codedeploy
    _group(cd, "gp-ok")
    deployment_id = _deploy(cd, "gp-ok")
    assert deployment_id.startswith("d-") and len(deployment_id) == 11
    info = _finished(cd, deployment_id)
    assert info["status"] == "Succeeded" and not info.get("errorInformation")
    assert ("current", "gp", "gp-production", PROD, ("gp-blue", "gp-green")) in \
        environment.calls
    shifts = [c[2][GREEN] for c in environment.calls if c[0] == "route" and c[1] == PROD]
    assert shifts == [10, 100]  # the group's canary
    assert environment.calls[-1] == ("delete_task_set", "ts/blue")
    target = cd.get_deployment_target(deploymentId=deployment_id,
                                      targetId="gp:gp-production")["deploymentTarget"]
    ecs = target["ecsTarget"]
    assert target["deploymentTargetType"] == "ECSTarget" and ecs["status"] == "Succeeded"
    events = {e["lifecycleEventName"]: e["status"] for e in ecs["lifecycleEvents"]}
    assert events["BeforeInstall"] == "Succeeded" and events["AfterInstall"] == "Skipped"
    weights = {t["taskSetLabel"]: t["trafficWeight"] for t in ecs["taskSetsInfo"]}
    assert weights == {"Blue": 0.0, "Green": 100.0}
    assert cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"] == \
        ["gp:gp-production"]
    with pytest.raises(cd.exceptions.DeploymentAlreadyCompletedException):
        cd.stop_deployment(deploymentId=deployment_id)


def test_a_hook_reporting_failed_rolls_back(codedeploy) -> None:
    cd, environment = codedeploy
    environment.failing_hooks.add("CodeDeployHook_e2e")
    _group(cd, "gp-hook")
    info = _finished(cd, _deploy(cd, "gp-hook"))
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert "CodeDeployHook_e2e" in info["errorInformation"]["message"]
    assert "Rolled back" in info["rollbackInfo"]["rollbackMessage"]
    assert ("route", PROD, {BLUE: 100}) in environment.calls
    assert ("delete_task_set", "ts/green") in environment.calls


def test_deployment_configs(codedeploy) -> None:
    cd, _ = codedeploy
    routing = {"type": "TimeBasedLinear",
               "timeBasedLinear": {"linearPercentage": 25, "linearInterval": 2}}
    cd.create_deployment_config(deploymentConfigName="Quarters", computePlatform="ECS",
                                trafficRoutingConfig=routing)
    info = cd.get_deployment_config(deploymentConfigName="Quarters")["deploymentConfigInfo"]
    assert info["trafficRoutingConfig"] == routing and info["computePlatform"] == "ECS"
    names = cd.list_deployment_configs()["deploymentConfigsList"]
    assert "Quarters" in names and "CodeDeployDefault.ECSAllAtOnce" in names
    with pytest.raises(cd.exceptions.DeploymentConfigAlreadyExistsException):
        cd.create_deployment_config(deploymentConfigName="Quarters", computePlatform="ECS",
                                    trafficRoutingConfig=routing)
    with pytest.raises(cd.exceptions.InvalidTrafficRoutingConfigurationException):
        cd.create_deployment_config(deploymentConfigName="Bad", computePlatform="ECS",
                                    trafficRoutingConfig={"type": "TimeBasedCanary"})
    with pytest.raises(cd.exceptions.InvalidOperationException):
        cd.delete_deployment_config(deploymentConfigName="CodeDeployDefault.ECSAllAtOnce")
    cd.delete_deployment_config(deploymentConfigName="Quarters")
    with pytest.raises(cd.exceptions.DeploymentConfigDoesNotExistException):
        cd.get_deployment_config(deploymentConfigName="Quarters")


def test_an_unknown_config_or_revision_is_refused_and_nothing_is_created(codedeploy) -> None:
    cd, environment = codedeploy
    _group(cd, "gp-bad")
    with pytest.raises(cd.exceptions.DeploymentConfigDoesNotExistException):
        cd.create_deployment(applicationName="gp-bad", deploymentGroupName="production",
                             deploymentConfigName="Nope",
                             revision={"revisionType": "AppSpecContent",
                                       "appSpecContent": {"content": json.dumps(APPSPEC)}})
    with pytest.raises(cd.exceptions.InvalidRevisionException):
        cd.create_deployment(applicationName="gp-bad", deploymentGroupName="production",
                             revision={"revisionType": "AppSpecContent",
                                       "appSpecContent": {"content": "Resources: []"}})
    assert cd.list_deployments(applicationName="gp-bad",
                               deploymentGroupName="production")["deployments"] == []
    assert not any(c[0] == "create_task_set" for c in environment.calls)


def test_hook_status_for_nothing_waiting_is_refused(codedeploy) -> None:
    cd, _ = codedeploy
    with pytest.raises(cd.exceptions.DeploymentDoesNotExistException):
        cd.put_lifecycle_event_hook_execution_status(
            deploymentId="d-NOTHING00", lifecycleEventHookExecutionId="x", status="Succeeded")


def test_an_s3_revision_is_read_from_the_sandbox_s3(codedeploy, moto_endpoint) -> None:
    cd, environment = codedeploy
    s3 = boto3.client("s3", region_name="ap-northeast-2", endpoint_url=moto_endpoint,
                      aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    s3.create_bucket(Bucket="revisions", CreateBucketConfiguration={
        "LocationConstraint": "ap-northeast-2"})
    s3.put_object(Bucket="revisions", Key="appspec.json", Body=json.dumps(APPSPEC).encode())
    _group(cd, "gp-s3")
    deployment_id = cd.create_deployment(
        applicationName="gp-s3", deploymentGroupName="production",
        revision={"revisionType": "S3", "s3Location": {
            "bucket": "revisions", "key": "appspec.json", "bundleType": "JSON"}})["deploymentId"]
    assert _finished(cd, deployment_id)["status"] == "Succeeded"
    assert ("create_task_set", APPSPEC["Resources"][0]["TargetService"]["Properties"][
        "TaskDefinition"], 8000) in environment.calls
    with pytest.raises(cd.exceptions.RevisionDoesNotExistException):
        cd.create_deployment(applicationName="gp-s3", deploymentGroupName="production",
                             revision={"revisionType": "S3", "s3Location": {
                                 "bucket": "revisions", "key": "missing.json",
                                 "bundleType": "JSON"}})



def _ready_group(cd, name: str) -> str:
    """An application and group that wait at Ready (STOP_DEPLOYMENT, 12 s at this time
    scale) and name no deployment config (an ECS group's default: AllAtOnce); a deployment
    of it, once Ready."""
    cd.create_application(applicationName=name, computePlatform="ECS")
    cd.create_deployment_group(
        applicationName=name, deploymentGroupName="production",
        serviceRoleArn="arn:aws:iam::123456789012:role/cd",
        deploymentStyle={"deploymentType": "BLUE_GREEN",
                         "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        ecsServices=[{"serviceName": "gp-production", "clusterName": "gp"}],
        loadBalancerInfo={"targetGroupPairInfoList": [{
            "targetGroups": [{"name": "gp-blue"}, {"name": "gp-green"}],
            "prodTrafficRoute": {"listenerArns": [PROD]}}]},
        blueGreenDeploymentConfiguration={"deploymentReadyOption": {
            "actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 600}})
    deployment_id = _deploy(cd, name)
    status = ""
    for _ in range(200):  # bounded: 10 s
        status = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"]
        if status == "Ready":
            return deployment_id
        time.sleep(0.05)
    raise AssertionError(f"deployment {deployment_id} still {status}, not Ready")


def test_a_stop_deployment_ready_option_waits_at_ready_for_continue(codedeploy) -> None:
    cd, environment = codedeploy
    deployment_id = _ready_group(cd, "gp-ready")
    group = cd.get_deployment_group(applicationName="gp-ready",
                                    deploymentGroupName="production")["deploymentGroupInfo"]
    assert group["deploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"
    target = cd.get_deployment_target(deploymentId=deployment_id,
                                      targetId="gp:gp-production")["deploymentTarget"]
    assert target["ecsTarget"]["status"] == "Ready"
    assert not any(c[0] == "route" and c[1] == PROD for c in environment.calls)
    cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="READY_WAIT")
    info = _finished(cd, deployment_id)
    assert info["status"] == "Succeeded"
    assert ("route", PROD, {BLUE: 0, GREEN: 100}) in environment.calls  # all at once
    with pytest.raises(cd.exceptions.DeploymentIsNotInReadyStateException):
        cd.continue_deployment(deploymentId=deployment_id, deploymentWaitType="READY_WAIT")


def test_a_deployment_waiting_at_ready_can_be_stopped_with_rollback(codedeploy) -> None:
    cd, environment = codedeploy
    deployment_id = _ready_group(cd, "gp-ready-stop")
    answer = cd.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
    assert answer["status"] == "Pending"
    info = _finished(cd, deployment_id)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "MANUAL_STOP"
    assert info["rollbackInfo"]["rollbackMessage"]
    assert ("delete_task_set", "ts/green") in environment.calls
