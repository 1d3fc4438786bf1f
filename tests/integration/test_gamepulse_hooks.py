"""GamePulse's hook Lambdas in the sandbox, as CodeDeploy runs them.

`provision` makes the functions from infra/gamepulse.yaml, their code packaged from
GamePulse/hooks/src as `aws cloudformation package` would. Each test then starts a real
deployment on GamePulse's production deployment group (of images pushed to the sandbox, or
a public one) whose AppSpec names the hooks: the sandbox's CodeDeploy invokes them through
its Lambda with the deployment's hook execution, and the test reads the status each reported
(the deployment's lifecycle events) and the lines it printed (its CloudWatch log). Nothing
serves GamePulse here (its production service has no tasks), so the listener hooks fail, as
they must, naming what failed; their passing path runs against the real GamePulse server in
GamePulse/hooks/tests, and in the full blue/green deploy.
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


PUBLIC_IMAGE = "public.ecr.aws/docker/library/busybox:stable"  # outside ECR: not checked


def deploy(aws: Aws, hooks: list[str], *, functions: dict[str, str] | None = None,
           secret_suffix: str = "", image: str = PUBLIC_IMAGE, sidecar: str | None = None,
           architecture: str = "X86_64") -> tuple[str, dict, dict]:
    """A deployment of a task definition whose AppSpec names shipyard.toml's function for
    each of `hooks` (or `functions`: event -> function), followed to its end: (deployment id,
    GetDeployment's info, lifecycle event -> status). The definition's `gamepulse` container
    runs `image` (GAMEPULSE_VERSION 1.4.0 when it is the public one, so the listener hooks
    know the version without ECR) with the production secret's ARN + `secret_suffix`, beside
    a `sidecar` container when one is given."""
    secret = aws("secretsmanager").describe_secret(SecretId="gamepulse/production/app")["ARN"]
    containers = [{
        "name": "gamepulse", "image": image, "portMappings": [{"containerPort": 8080}],
        "environment": [{"name": "GAMEPULSE_VERSION", "value": "1.4.0"}]
        if image == PUBLIC_IMAGE else [],
        "secrets": [{"name": "GAMEPULSE_API_KEY",
                     "valueFrom": f"{secret}{secret_suffix}:API_KEY::"}]}]
    if sidecar:
        containers.append({"name": "sidecar", "image": sidecar, "essential": False})
    definition = aws("ecs").register_task_definition(
        family=f"gamepulse-hooks-{uuid.uuid4().hex[:6]}", networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        runtimePlatform={"cpuArchitecture": architecture, "operatingSystemFamily": "LINUX"},
        containerDefinitions=containers)["taskDefinition"]["taskDefinitionArn"]
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


@pytest.fixture
def pushed(repo, shipyard, sandbox_env: dict[str, str], oci_layout_factory,
           aws: Aws) -> dict[str, str]:
    """Images pushed to the sandbox's ECR, by digest: "index" (amd64 and arm64), "amd64"
    (an index without arm64), and "version", their X.Y.Z tag."""
    images = {}
    for name, platforms in (("index", ("linux/amd64", "linux/arm64")),
                            ("amd64", ("linux/amd64", "linux/386"))):
        layout = oci_layout_factory(platforms)
        result = shipyard(repo, "push", "--from-oci", str(layout), "--json",
                          env={"ECR_REPOSITORY": f"{sandbox_env['ECR_REPOSITORY']}-{name}"})
        assert result.code == 0, result.err
        out = result.json()
        images[name] = f"{out['registry']}/{out['repository']}@{out['digest']}"
        assert out["registry"] == sandbox_env["SHIPYARD_REGISTRY"]  # the sandbox's, not ECR's
    repository, _, digest = images["index"].split("/", 1)[1].partition("@")
    detail = aws("ecr").describe_images(repositoryName=repository, imageIds=[
        {"imageDigest": digest}])["imageDetails"][0]
    images["version"] = next(tag for tag in detail["imageTags"] if tag.count(".") == 2)
    return images


def test_before_install_checks_each_image_in_ecr_for_the_tasks_architecture(
        listeners_kept: dict[int, str], aws: Aws, pushed: dict[str, str]) -> None:
    """The images are named by the sandbox registry's address, which the function knows as
    this account's ECR through ECR_REGISTRY (the template's ECR host, pointed at the sandbox)."""
    deployment, info, events = deploy(aws, ["BeforeInstall"], image=pushed["index"],
                                      sidecar=pushed["amd64"], architecture="ARM64")
    assert (info["status"], events["BeforeInstall"]) == ("Failed", "Failed")
    lines = printed(aws, HOOKS["BeforeInstall"], deployment)
    assert "ok: image of gamepulse is in ECR with linux/arm64 (it has amd64, arm64)" in lines
    assert "FAILED: image of sidecar is in ECR with linux/arm64 (it has 386, amd64)" in lines


def test_preflight_passes_and_the_smoke_test_fails_on_the_test_listener(
        listeners_kept: dict[int, str], aws: Aws, sandbox_dir: Path,
        pushed: dict[str, str]) -> None:
    deployment, info, events = deploy(aws, ["BeforeInstall", "AfterAllowTestTraffic"],
                                      image=pushed["index"])
    assert (events["BeforeInstall"], events["Install"], events["AllowTestTraffic"]) == (
        "Succeeded", "Succeeded", "Succeeded")
    assert events["AfterAllowTestTraffic"] == "Failed"
    assert info["status"] == "Failed"
    assert "ok: secret GAMEPULSE_API_KEY of gamepulse: gamepulse/production/app exists" in (
        printed(aws, HOOKS["BeforeInstall"], deployment))
    lines = printed(aws, HOOKS["AfterAllowTestTraffic"], deployment)
    local = {entry["listener_arn"]: entry["url"] for entry in json.loads(
        (sandbox_dir / "listeners.json").read_text())["listeners"]}
    # The template's URL on the load balancer's DNS name reached the test listener's proxy,
    # and the version being deployed is the image's tag in ECR.
    assert (f"checked through TEST_URL={local[listeners_kept[8080]]}, expecting version "
            f"{pushed['version']}") in lines
    assert "FAILED: /health answers HTTP 503" in lines  # no task behind green


def test_the_end_to_end_hook_fails_on_the_production_listener(
        listeners_kept: dict[int, str], aws: Aws, sandbox_dir: Path) -> None:
    """The AfterAllowTraffic function, named here at AfterAllowTestTraffic: CodeDeploy runs
    whatever function an event names, and the deployment then stops before it moves
    production traffic and GamePulse's service (which the session's other tests read as
    provisioned). The function checks production either way."""
    deployment, info, events = deploy(aws, [], functions={
        "AfterAllowTestTraffic": HOOKS["AfterAllowTraffic"]})
    assert (events["AfterAllowTestTraffic"], events["AllowTraffic"]) == ("Failed", "Skipped")
    assert info["status"] == "Failed"
    lines = printed(aws, HOOKS["AfterAllowTraffic"], deployment)
    local = {entry["listener_arn"]: entry["url"] for entry in json.loads(
        (sandbox_dir / "listeners.json").read_text())["listeners"]}
    assert (f"checked through PRODUCTION_URL={local[listeners_kept[80]]}, expecting version "
            "1.4.0") in lines
    assert "FAILED: /health answers HTTP 503" in lines  # no task behind blue either
