"""GamePulse's hook Lambdas in the sandbox, as CodeDeploy runs them.

`provision` makes the functions from infra/gamepulse.yaml, their code packaged from
GamePulse/hooks/src as `aws cloudformation package` would. Each test then starts a real
deployment on GamePulse's production deployment group whose AppSpec names the hooks: the
sandbox's CodeDeploy invokes them through its Lambda with the deployment's hook execution,
and the test reads the status each reported (the deployment's lifecycle events) and the lines
it printed (its CloudWatch log). Nothing serves GamePulse here (its production service has no
tasks), so the listener hooks fail, as they must, naming what failed; their passing path runs
against the real GamePulse server in GamePulse/hooks/tests, and in the full blue/green deploy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard_sandbox.provision import ProvisionReport
from shipyard_sandbox.provision.package import zip_folder
from shipyard_testing.gamepulse_infra import SandboxAws as Aws

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HOOKS = tomllib.loads((ROOT / "GamePulse" / "shipyard.toml").read_text())[
    "environments"]["production"]["hooks"]
CLUSTER, SERVICE = "gamepulse", "gamepulse-production"
DEPLOY_WAIT = 120.0  # seconds; bounds a hang only: the loop ends when the deployment does
HANDLERS = {"BeforeInstall": "gamepulse_hooks.handlers.before_install",
            "AfterAllowTestTraffic": "gamepulse_hooks.handlers.after_allow_test_traffic",
            "AfterAllowTraffic": "gamepulse_hooks.handlers.after_allow_traffic"}


@pytest.fixture
def listeners_kept(provisioned: ProvisionReport, aws: Aws) -> Iterator[dict[int, str]]:
    """The load balancer's listeners by port (ARN); a deployment moves them, and they are put
    back as they were for the session's other tests (test_infra reads them)."""
    elbv2 = aws("elbv2")
    balancer = elbv2.describe_load_balancers(Names=["gamepulse"])["LoadBalancers"][0]
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
        "Listeners"]
    yield {listener["Port"]: listener["ListenerArn"] for listener in listeners}
    for listener in listeners:
        elbv2.modify_listener(ListenerArn=listener["ListenerArn"],
                              DefaultActions=listener["DefaultActions"])


def deploy(aws: Aws, hooks: list[str], functions: dict[str, str] | None = None,
           secret_suffix: str = "") -> tuple[str, dict, dict]:
    """A deployment of a task definition (its secret's ARN + `secret_suffix`) whose AppSpec
    names shipyard.toml's function for each of `hooks` (or `functions`: event -> function),
    followed to its end: (deployment id, GetDeployment's info, lifecycle event -> status)."""
    secret = aws("secretsmanager").describe_secret(SecretId="gamepulse/production/app")["ARN"]
    definition = aws("ecs").register_task_definition(
        family=f"gamepulse-hooks-{uuid.uuid4().hex[:6]}", networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{
            "name": "gamepulse", "image": "public.ecr.aws/docker/library/busybox:stable",
            "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "GAMEPULSE_VERSION", "value": "1.4.0"}],
            "secrets": [{"name": "GAMEPULSE_API_KEY",
                         "valueFrom": f"{secret}{secret_suffix}:API_KEY::"}]}],
    )["taskDefinition"]["taskDefinitionArn"]
    appspec = {"version": 0.0, "Resources": [{"TargetService": {
        "Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": definition,
            "LoadBalancerInfo": {"ContainerName": "gamepulse", "ContainerPort": 8080}}}}],
        "Hooks": [{event: function} for event, function in
                  (functions or {event: HOOKS[event] for event in hooks}).items()]}
    codedeploy = aws("codedeploy")
    deployment = codedeploy.create_deployment(
        applicationName="gamepulse", deploymentGroupName="gamepulse-production",
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        revision={"revisionType": "AppSpecContent",
                  "appSpecContent": {"content": json.dumps(appspec)}})["deploymentId"]
    deadline = time.monotonic() + DEPLOY_WAIT
    info = codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]
    while info["status"] not in ("Succeeded", "Failed", "Stopped"):
        assert time.monotonic() < deadline, f"{deployment} still {info['status']}"
        time.sleep(0.2)
        info = codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]
    target = codedeploy.get_deployment_target(
        deploymentId=deployment, targetId=f"{CLUSTER}:{SERVICE}")["deploymentTarget"]
    events = {e["lifecycleEventName"]: e["status"]
              for e in target["ecsTarget"]["lifecycleEvents"]}
    return deployment, info, events


def printed(aws: Aws, function: str, deployment: str) -> list[str]:
    """What the function printed in its invocation for `deployment` (its log stream)."""
    logs, group = aws("logs"), f"/aws/lambda/{function}"
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        lines = [event["message"].rstrip("\n") for event in logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"],
            startFromHead=True)["events"]]
        if any(f"reporting to CodeDeploy ({deployment})" in line for line in lines):
            return lines
    raise AssertionError(f"{function} logged no invocation for {deployment}")


def test_provision_makes_the_hook_functions_from_the_hooks_folder(
        provisioned: ProvisionReport, aws: Aws) -> None:
    assert set(HOOKS) == set(HANDLERS)  # every hook in shipyard.toml has a function
    packaged = base64.b64encode(hashlib.sha256(
        zip_folder(ROOT / "GamePulse" / "hooks" / "src")).digest()).decode()
    balancer = aws("elbv2").describe_load_balancers(Names=["gamepulse"])["LoadBalancers"][0]
    for event, name in HOOKS.items():
        configuration = aws("lambda").get_function(FunctionName=name)["Configuration"]
        assert (configuration["Handler"], configuration["Runtime"]) == (HANDLERS[event],
                                                                        "python3.12")
        assert configuration["CodeSha256"] == packaged
        assert configuration["Role"].split("/")[-1] == (
            "gamepulse-hook-preflight" if event == "BeforeInstall" else "gamepulse-hook-listener")
        variables = configuration["Environment"]["Variables"]
        if event != "BeforeInstall":  # the template's URL, on the load balancer's DNS name
            url = variables["TEST_URL" if event == "AfterAllowTestTraffic" else "PRODUCTION_URL"]
            assert url.startswith(f"http://{balancer['DNSName']}")
    assert {provisioned.outcome(lid).method for lid in (
        "BeforeInstallHook", "SmokeTestHook", "AfterTrafficHook")} == {"api"}


def test_before_install_reports_failed_naming_a_missing_secret(
        listeners_kept: dict[int, str], aws: Aws) -> None:
    deployment, info, events = deploy(aws, ["BeforeInstall"], secret_suffix="-gone")
    assert info["status"] == "Failed"
    assert (events["BeforeInstall"], events["Install"]) == ("Failed", "Skipped")
    assert HOOKS["BeforeInstall"] in info["errorInformation"]["message"]
    lines = printed(aws, HOOKS["BeforeInstall"], deployment)
    secret = aws("secretsmanager").describe_secret(SecretId="gamepulse/production/app")["ARN"]
    assert (f"FAILED: secret GAMEPULSE_API_KEY of gamepulse: {secret}-gone does not exist"
            in lines)


def test_preflight_passes_and_the_smoke_test_fails_on_the_test_listener(
        listeners_kept: dict[int, str], aws: Aws, sandbox_dir: Path) -> None:
    deployment, info, events = deploy(aws, ["BeforeInstall", "AfterAllowTestTraffic"])
    assert (events["BeforeInstall"], events["Install"], events["AllowTestTraffic"]) == (
        "Succeeded", "Succeeded", "Succeeded")
    assert events["AfterAllowTestTraffic"] == "Failed"
    assert info["status"] == "Failed"
    assert "ok: secret GAMEPULSE_API_KEY of gamepulse: gamepulse/production/app exists" in (
        printed(aws, HOOKS["BeforeInstall"], deployment))
    lines = printed(aws, HOOKS["AfterAllowTestTraffic"], deployment)
    local = {entry["listener_arn"]: entry["url"] for entry in json.loads(
        (sandbox_dir / "listeners.json").read_text())["listeners"]}
    # The template's URL on the load balancer's DNS name reached the test listener's proxy.
    assert f"checked through TEST_URL={local[listeners_kept[8080]]}" in lines
    assert "FAILED: /health answers HTTP 503" in lines  # no task behind green


def test_the_end_to_end_hook_fails_on_the_production_listener(
        listeners_kept: dict[int, str], aws: Aws, sandbox_dir: Path) -> None:
    """The AfterAllowTraffic function, named here at AfterAllowTestTraffic: CodeDeploy runs
    whatever function an event names, and the deployment then stops before it moves
    production traffic and GamePulse's service (which the session's other tests read as
    provisioned). The function checks production either way."""
    deployment, info, events = deploy(aws, [], {"AfterAllowTestTraffic": HOOKS[
        "AfterAllowTraffic"]})
    assert (events["AfterAllowTestTraffic"], events["AllowTraffic"]) == ("Failed", "Skipped")
    assert info["status"] == "Failed"
    lines = printed(aws, HOOKS["AfterAllowTraffic"], deployment)
    local = {entry["listener_arn"]: entry["url"] for entry in json.loads(
        (sandbox_dir / "listeners.json").read_text())["listeners"]}
    assert f"checked through PRODUCTION_URL={local[listeners_kept[80]]}" in lines
    assert "FAILED: /health answers HTTP 503" in lines  # no task behind blue either
