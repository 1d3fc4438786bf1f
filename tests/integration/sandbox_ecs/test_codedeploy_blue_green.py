"""CodeDeploy blue/green on the sandbox, end to end, through boto3 and HTTP only.

A CODE_DEPLOY service serves version A behind a listener; a deployment of B with a canary
config and Lambda hooks (real handlers that report back with
PutLifecycleEventHookExecutionStatus) moves the listener's answers from A to B, both seen
during the canary, with no failed request. A hook that reports Failed rolls back: the
listener never leaves A and the replacement task set is deleted. The `hook-failed` fault knob
does the same to a hook that would succeed, without running it. An alarm on the
replacement's real 5xx (the `http-5xx` knob) and StopDeployment each stop the canary and roll
back; linear and all-at-once configs shift the listener in their order and proportions.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
import uuid
import zipfile
from collections.abc import Callable

import pytest

from .conftest import wait_for
from .test_load_balanced import fetch, versioned
from .test_services import remove

pytestmark = pytest.mark.integration
MAX_REQUESTS = 3000  # bounds the request loop; it ends when the deployment has ended
HOOK = """
import os, boto3
def handler(event, context):
    boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=os.environ["HOOK_STATUS"])
"""


def hook_function(world, name: str, status: str) -> str:
    trust = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
             '{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}')
    role = world.client("iam").create_role(RoleName=f"{name}-role",
                                           AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hook.py", HOOK)
    world.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="hook.handler",
        Code={"ZipFile": buffer.getvalue()}, Environment={"Variables": {"HOOK_STATUS": status}})
    return name


def blue_green(world, load_balancer, hooks: dict[str, str], *, canary_minutes: int = 1,
               b_image: str | None = None, alarm: Callable[[str, str], str] | None = None,
               routing: dict | None = None) -> tuple[str, str, str, str]:
    """A CODE_DEPLOY service on A behind a listener, its CodeDeploy application and group
    (canary 50% for `canary_minutes`, AWS time; with `alarm(load balancer dimension, green's
    target group dimension) -> alarm name`, stopped and rolled back on it), and a deployment
    of B (its image `b_image` if given): (service, deployment id, B, listener url)."""
    (blue, green), url = load_balancer(groups=2)
    name = f"cd-{uuid.uuid4().hex[:6]}"
    b_container = versioned("B") | ({"image": b_image} if b_image else {})
    first, second = world.register(name, [versioned("A")]), world.register(name, [b_container])
    world.client("ecs").create_service(
        cluster=world.cluster, serviceName=name, taskDefinition=first, desiredCount=2,
        launchType="FARGATE", networkConfiguration=world.network,
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=[{"targetGroupArn": blue, "containerName": "web",
                        "containerPort": 8080}])
    wait_for("A to answer", lambda: fetch(url) == (200, "A"))
    elbv2 = world.client("elbv2")
    listener = next(l_["ListenerArn"] for l_ in elbv2.describe_listeners(
        LoadBalancerArn=elbv2.describe_target_groups(TargetGroupArns=[blue])["TargetGroups"][0]
        ["LoadBalancerArns"][0])["Listeners"])
    cd = world.client("codedeploy")
    cd.create_deployment_config(deploymentConfigName=f"{name}-half", computePlatform="ECS",
                                trafficRoutingConfig=routing or {
                                    "type": "TimeBasedCanary", "timeBasedCanary": {
                                        "canaryPercentage": 50,
                                        "canaryInterval": canary_minutes}})
    cd.create_application(applicationName=name, computePlatform="ECS")
    alarms = {}
    if alarm is not None:
        balancer = elbv2.describe_target_groups(TargetGroupArns=[blue])["TargetGroups"][0][
            "LoadBalancerArns"][0]
        alarms = {"alarmConfiguration": {"enabled": True, "alarms": [
            {"name": alarm(balancer.split(":loadbalancer/")[1], green.split(":")[-1])}]}}
    cd.create_deployment_group(
        applicationName=name, deploymentGroupName="production",
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        deploymentConfigName=f"{name}-half",
        deploymentStyle={"deploymentType": "BLUE_GREEN",
                         "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        ecsServices=[{"serviceName": name, "clusterName": world.cluster}],
        loadBalancerInfo={"targetGroupPairInfoList": [{
            "targetGroups": [{"name": blue.split("/")[-2]}, {"name": green.split("/")[-2]}],
            "prodTrafficRoute": {"listenerArns": [listener]}}]},
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE", "terminationWaitTimeInMinutes": 0}},
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE",
                                                               "DEPLOYMENT_STOP_ON_ALARM"]},
        **alarms)
    appspec = {"version": 0.0, "Resources": [{"TargetService": {
        "Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": second,
            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080}}}}],
        "Hooks": [{event: function} for event, function in hooks.items()]}
    deployment = cd.create_deployment(
        applicationName=name, deploymentGroupName="production",
        revision={"revisionType": "AppSpecContent",
                  "appSpecContent": {"content": json.dumps(appspec)}})["deploymentId"]
    return name, deployment, second, url


def only_task_set(world, name: str, what: str) -> dict:
    """The service's one task set, once the other has gone."""
    return wait_for(what, lambda: len(
        found := world.client("ecs").describe_task_sets(cluster=world.cluster, service=name)[
            "taskSets"]) == 1 and found)[0]


def tear_down(world, name: str) -> None:
    world.client("ecs").update_service(cluster=world.cluster, service=name, desiredCount=0)
    remove(world, name)


def watch(world, url: str, deployment: str) -> tuple[dict, list[tuple[int, str]]]:
    """Requests to the listener while the deployment runs; its final state and the answers."""
    answers: list[tuple[int, str]] = []
    done = threading.Event()

    def loop() -> None:
        for _ in range(MAX_REQUESTS):
            if done.is_set():
                return
            answers.append(fetch(url))

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        info = wait_for("the deployment to end", lambda: (
            found := world.client("codedeploy").get_deployment(deploymentId=deployment)[
                "deploymentInfo"])["status"] in ("Succeeded", "Failed", "Stopped") and found,
            timeout=90)
    finally:
        done.set()
        thread.join(timeout=30)
    return info, answers


def test_a_canary_deployment_moves_the_listener_from_a_to_b_without_a_failed_request(
        world, load_balancer) -> None:
    tag = uuid.uuid4().hex[:6]
    hooks = {"BeforeInstall": hook_function(world, f"CodeDeployHook_before-{tag}", "Succeeded"),
             "BeforeAllowTraffic": hook_function(world, f"CodeDeployHook_check-{tag}",
                                                 "Succeeded")}
    name, deployment, second, url = blue_green(world, load_balancer, hooks)
    info, answers = watch(world, url, deployment)
    assert info["status"] == "Succeeded", info
    assert all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200]
    versions = [version for _, version in answers]
    assert versions[0] == "A" and versions[-1] == "B"
    assert {"A", "B"} <= set(versions[versions.index("B"):])  # the canary: both answered
    assert fetch(url) == (200, "B")
    target = world.client("codedeploy").get_deployment_target(
        deploymentId=deployment, targetId=f"{world.cluster}:{name}")["deploymentTarget"]
    events = {e["lifecycleEventName"]: e["status"]
              for e in target["ecsTarget"]["lifecycleEvents"]}
    assert events["BeforeInstall"] == events["BeforeAllowTraffic"] == "Succeeded"
    assert events["AfterInstall"] == "Skipped"
    left = only_task_set(world, name, "the original task set to go")
    assert left["status"] == "PRIMARY" and left["taskDefinition"] == second
    tear_down(world, name)


def test_a_hook_that_reports_failed_rolls_back_and_the_listener_stays_on_a(
        world, load_balancer) -> None:
    tag = uuid.uuid4().hex[:6]
    hooks = {"BeforeAllowTraffic": hook_function(world, f"CodeDeployHook_no-{tag}", "Failed")}
    name, deployment, _, url = blue_green(world, load_balancer, hooks)
    info, answers = watch(world, url, deployment)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert answers and {version for _, version in answers} == {"A"}
    assert only_task_set(world, name, "the replacement task set to go")["status"] == "PRIMARY"
    tear_down(world, name)


def test_the_hook_failed_knob_fails_a_hook_that_would_succeed(world, load_balancer) -> None:
    tag = uuid.uuid4().hex[:6]
    function = hook_function(world, f"CodeDeployHook_ok-{tag}", "Succeeded")
    ssm = world.client("ssm")
    knob = f"/shipyard-sandbox/faults/codedeploy/{tag}"
    ssm.put_parameter(Name=knob, Type="String",
                      Value=json.dumps({"fault": "hook-failed", "function": function}))
    try:
        name, deployment, _, url = blue_green(world, load_balancer,
                                              {"AfterInstall": function})
        info, _ = watch(world, url, deployment)
    finally:
        ssm.delete_parameter(Name=knob)
    assert info["status"] == "Failed"
    assert f"AfterInstall hook {function} reported Failed" in info["errorInformation"]["message"]
    logs = world.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{function}") \
        if world.client("logs").describe_log_groups(
            logGroupNamePrefix=f"/aws/lambda/{function}")["logGroups"] else {"logStreams": []}
    assert logs["logStreams"] == []  # the function never ran
    assert fetch(url) == (200, "A")
    tear_down(world, name)


def test_an_alarm_on_the_replacement_s_5xx_stops_the_canary_and_rolls_back(
        world, load_balancer) -> None:
    # B differs from A only in how its image is named (by digest), so that the http-5xx knob
    # names B's tasks alone: they answer 500 on every path but their health check's.
    repository, _, tag = world.image.rpartition(":")
    digest = world.client("ecr").describe_images(
        repositoryName=repository.split("/", 1)[1], imageIds=[{"imageTag": tag}])[
        "imageDetails"][0]["imageDigest"]
    b_image = f"{repository}@{digest}"
    ssm = world.client("ssm")
    knob = f"/shipyard-sandbox/faults/elb/{uuid.uuid4().hex[:6]}"
    ssm.put_parameter(Name=knob, Type="String", Value=json.dumps(
        {"fault": "http-5xx", "image": b_image, "path": "/version.txt", "status": 500}))
    cloudwatch = world.client("cloudwatch")

    def alarm(balancer: str, green: str) -> str:
        name = f"green-5xx-{uuid.uuid4().hex[:6]}"
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching", Dimensions=[
                {"Name": "LoadBalancer", "Value": balancer},
                {"Name": "TargetGroup", "Value": green}])
        return name

    try:
        name, deployment, _, url = blue_green(world, load_balancer, {}, canary_minutes=10,
                                              b_image=b_image, alarm=alarm)
        info, answers = watch(world, url, deployment)
    finally:
        ssm.delete_parameter(Name=knob)
    assert info["status"] == "Stopped", info
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert (500, "") in answers  # B answered 500 during the canary: that is what was seen
    assert fetch(url) == (200, "A")  # and the traffic is back on A
    assert only_task_set(world, name, "the replacement task set to go")["status"] == "PRIMARY"
    tear_down(world, name)


WINDOW = 20  # sequential requests per window: smooth round-robin makes a window's B count
# the weight's share of it, give or take one where a window straddles a shift


@pytest.mark.parametrize(("routing", "levels"), [
    ({"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 25,
                                                      "linearInterval": 1}}, [5, 10, 15]),
    ({"type": "AllAtOnce"}, []),
], ids=["linear-25-every-minute", "all-at-once"])
def test_the_listener_shifts_in_the_order_and_proportions_of_the_config(
        world, load_balancer, routing, levels) -> None:
    name, deployment, _, url = blue_green(world, load_balancer, {}, routing=routing)
    info, answers = watch(world, url, deployment)
    answers += [fetch(url) for _ in range(2 * WINDOW)]  # after the last shift, held
    assert info["status"] == "Succeeded", info
    assert all(status == 200 for status, _ in answers)
    counts = [sum(version == "B" for _, version in answers[start:start + WINDOW])
              for start in range(0, len(answers) - WINDOW + 1, WINDOW)]
    assert counts[0] == 0 and counts[-1] == WINDOW, counts
    # in order: never back by more than a straddled window's one request
    assert all(later >= earlier - 1 for earlier, later in itertools.pairwise(counts)), counts
    # in proportion: each step of the config is seen at its share; nothing else is held
    held = {count for count in counts if counts.count(count) >= 3}
    for level in levels:
        assert any(abs(count - level) <= 1 for count in held), (level, counts)
    assert held <= {0, WINDOW, *levels, *(lv - 1 for lv in levels), *(lv + 1 for lv in levels)}
    tear_down(world, name)


def test_stop_deployment_during_the_canary_rolls_back(world, load_balancer) -> None:
    name, deployment, _, url = blue_green(world, load_balancer, {}, canary_minutes=10)
    wait_for("the canary to send requests to B",
             lambda: any(fetch(url)[1] == "B" for _ in range(4)), timeout=60)
    answer = world.client("codedeploy").stop_deployment(deploymentId=deployment,
                                                        autoRollbackEnabled=True)
    assert answer["status"] == "Pending"
    info, _ = watch(world, url, deployment)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "MANUAL_STOP"
    assert {fetch(url)[1] for _ in range(10)} == {"A"}
    tear_down(world, name)
