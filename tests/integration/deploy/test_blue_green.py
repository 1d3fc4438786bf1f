"""Blue/green deploys on the sandbox, at the use-case level (start_blue_green,
follow_blue_green) against the world's CODE_DEPLOY service, its listeners and CodeDeploy.

A canary deploy moves the production listener from one version to the next with no failed
request in a steady request loop, the weights reported as they shift; a failing hook (the
sandbox's hook-failed knob) and a tripped alarm each end in a rolled-back failure with the
reason; Ctrl-C mid-canary stops the deployment with rollback; a deployment waiting at Ready
shifts production traffic only with approve_traffic. The tests run in order on one world:
each starts from the version the one before left serving.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.adapters.aws import Aws
from shipyard.adapters.codedeploy import CodeDeploy
from shipyard.config import EnvironmentSettings
from shipyard.usecases.deploy.blue_green import (
    DeployInterrupted,
    follow_blue_green,
    start_blue_green,
)

pytestmark = pytest.mark.integration
CANARY = "CodeDeployDefault.ECSCanary10Percent5Minutes"  # 10 s at the sandbox's time scale
LONG_CANARY = "CodeDeployDefault.ECSCanary10Percent15Minutes"  # 30 s
TIMEOUT = 120.0  # bounds a hang; a deployment here ends in well under a minute
MAX_REQUESTS = 20000  # bounds the request loop; it ends when the deployment has ended
DEPLOYMENT_FAILED, INTERRUPTED = 15, 130  # the README's exit codes


def codedeploy(world: Any) -> CodeDeploy:
    return CodeDeploy(Aws(world.region, client_factory=lambda service, **_: world.client(
        service)))


def settings(world: Any, **changes: Any) -> EnvironmentSettings:
    """[environments.production] of the world's project, as shipyard.toml has it."""
    values: dict[str, Any] = dict(
        cluster=world.name, service=f"{world.name}-production",
        task_definition=Path("deploy/task-definition.json"), deployment="blue_green",
        container_name="web", container_port=8080, codedeploy_application=world.name,
        codedeploy_group=f"{world.name}-production")
    return EnvironmentSettings(**(values | changes))


def register(world: Any, image: str) -> str:
    """The production family's task definition of `image` (what `deploy` registers)."""
    account = world.client("sts").get_caller_identity()["Account"]
    return str(world.client("ecs").register_task_definition(
        family=f"{world.name}-production", cpu="256", memory="512", networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        executionRoleArn=f"arn:aws:iam::{account}:role/{world.name}-execution",
        containerDefinitions=[{
            "name": "web", "image": image, "essential": True, "stopTimeout": 2,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "healthCheck": {"command": ["CMD-SHELL",
                                        "wget -q -O /dev/null http://127.0.0.1:8080/health"],
                            "interval": 5, "timeout": 2, "retries": 2, "startPeriod": 1}}],
    )["taskDefinition"]["taskDefinitionArn"])


class Requests:
    """A steady request loop through the production listener while a deployment runs:
    sequential GET /version, at most MAX_REQUESTS, until stopped; `on_version` is called
    the first time its version answers."""

    def __init__(self, url: str,
                 on_version: tuple[str, Callable[[], None]] | None = None) -> None:
        self.url, self.answers = f"{url}/version", []  # (status, version or error)
        self._on_version = on_version  # (version, called once when it first answers)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            for _ in range(MAX_REQUESTS):
                if self._done.is_set():
                    return
                try:
                    answer = client.get(self.url)
                    self.answers.append((answer.status_code, answer.json().get("version")
                                         if answer.status_code == 200 else answer.text))
                except (httpx.HTTPError, ValueError) as exc:
                    self.answers.append((0, str(exc)))
                if self._on_version and self.answers[-1] == (200, self._on_version[0]):
                    self._on_version, call = None, self._on_version[1]
                    call()

    def __enter__(self) -> Requests:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    @property
    def failed(self) -> list[tuple[int, Any]]:
        return [answer for answer in self.answers if answer[0] != 200]

    @property
    def versions(self) -> list[Any]:
        return [version for status, version in self.answers if status == 200]


def deploy(world: Any, shipyard: Any, version: str, *, config: str | None = None,
           group: str | None = None, hooks: dict[str, str] | None = None,
           lines: list[str] | None = None, sleep: Any = time.sleep,
           **options: Any) -> tuple[Any, list[str], str]:
    """start_blue_green + follow_blue_green of `version`: (verdict, reported lines, id).
    `lines` fills as the follower reports (a test's `sleep` may look at it)."""
    if world.service("production")["desiredCount"] == 0:  # the first deploy, as `deploy` does
        world.client("ecs").update_service(cluster=world.name,
                                           service=f"{world.name}-production", desiredCount=2)
    cd = codedeploy(world)
    chosen = settings(world, hooks=hooks or {}, codedeploy_group=group or
                      f"{world.name}-production")
    started = start_blue_green(cd, chosen, register(world, world.push(shipyard, version)),
                               config, f"test deploy {version}")
    lines = [] if lines is None else lines
    options = {"timeout": TIMEOUT, "approve_traffic": False, "leave_running": False} | options
    verdict = follow_blue_green(cd, started.deployment_id, clock=time.monotonic, sleep=sleep,
                                report=lines.append, **options)
    return verdict, lines, started.deployment_id


def serving(world: Any, shipyard: Any, version: str) -> None:
    """Make the production listener serve `version` (deployed all at once if need be)."""
    if world.served_version(80) != version:
        verdict, lines, _ = deploy(world, shipyard, version)
        assert verdict.state == "succeeded", lines
    assert world.wait_for(f"{version} to be served", lambda: world.served_version(80) == version)


def only_version(world: Any, version: str, requests: int = 10) -> set[Any]:
    with httpx.Client(timeout=5.0) as client:
        return {client.get(f"{world.url(80)}/version").json().get("version")
                for _ in range(requests)}


@contextlib.contextmanager
def failing_hook(world: Any) -> Iterator[str]:
    """A hook function name that the sandbox's hook-failed knob fails without running it,
    for the block's duration."""
    function = f"smoke-{uuid.uuid4().hex[:6]}"
    knob = f"/shipyard-sandbox/faults/codedeploy/{function}"
    ssm = world.client("ssm")
    ssm.put_parameter(Name=knob, Type="String",
                      Value=f'{{"fault": "hook-failed", "function": "{function}"}}')
    try:
        yield function
    finally:
        ssm.delete_parameter(Name=knob)


def extra_group(world: Any, suffix: str, **changes: Any) -> str:
    """Another blue/green group of the world's application on the production service, with
    `changes` to the world group's settings (the sandbox lets two groups share a service)."""
    cd = world.client("codedeploy")
    group = cd.get_deployment_group(applicationName=world.name,
                                    deploymentGroupName=f"{world.name}-production")[
        "deploymentGroupInfo"]
    name = f"{world.name}-{suffix}"
    cd.create_deployment_group(**({
        "applicationName": world.name, "deploymentGroupName": name,
        "serviceRoleArn": group["serviceRoleArn"],
        "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
        "deploymentStyle": group["deploymentStyle"],
        "blueGreenDeploymentConfiguration": group["blueGreenDeploymentConfiguration"],
        "loadBalancerInfo": group["loadBalancerInfo"], "ecsServices": group["ecsServices"],
        "autoRollbackConfiguration": group["autoRollbackConfiguration"]} | changes))
    return name


def test_a_canary_deploy_shifts_the_weights_with_no_failed_request(world, shipyard) -> None:
    serving(world, shipyard, "1.0.0")
    with Requests(world.url(80)) as requests:
        verdict, lines, ident = deploy(world, shipyard, "1.1.0", config=CANARY)
    assert verdict.state == "succeeded", lines
    assert requests.failed == [], requests.failed[:5]
    versions = requests.versions
    assert versions[0] == "1.0.0" and versions[-1] == "1.1.0"
    first_new = versions.index("1.1.0")
    # the canary: both versions answered for a while, then the new one alone
    assert "1.0.0" in versions[first_new:], "no canary: the old version never answered again"
    weights = [line for line in lines if line.startswith("traffic: ")]
    # the canary's two shifts, in order, after the replacement started with none
    assert weights[-2:] == ["traffic: Blue 90%, Green 10%", "traffic: Blue 0%, Green 100%"], \
        lines
    # before them, all traffic on the original (the replacement, once listed, at 0%: a look
    # may miss that moment when the canary shifts soon after the task set is up)
    assert weights[0].startswith("traffic: Blue 100%"), lines
    assert all(line in ("traffic: Blue 100%", "traffic: Blue 100%, Green 0%")
               for line in weights[:-2]), lines
    assert any(line.startswith("AllowTraffic: ") for line in lines)
    info = world.client("codedeploy").get_deployment(deploymentId=ident)["deploymentInfo"]
    assert info["deploymentConfigName"] == CANARY
    assert info["revision"]["revisionType"] == "AppSpecContent"
    assert only_version(world, "1.1.0") == {"1.1.0"}


def test_a_failing_hook_rolls_back_and_fails_with_its_message(world, shipyard) -> None:
    serving(world, shipyard, "1.1.0")
    with failing_hook(world) as function:
        verdict, lines, _ = deploy(world, shipyard, "1.2.0",
                                   hooks={"AfterAllowTestTraffic": function})
    assert verdict.state == "failed" and verdict.rolled_back, verdict
    assert "failed and was rolled back" in verdict.reason
    assert f"The AfterAllowTestTraffic hook {function} reported Failed" in verdict.reason
    assert "AfterAllowTestTraffic: Failed" in lines
    assert only_version(world, "1.1.0") == {"1.1.0"}


def shifting(lines: list[str]) -> bool:
    """Whether the follower has reported production traffic on the new task set."""
    return "traffic: Blue 90%, Green 10%" in lines  # CodeDeploy's labels: Green is the new


def alarmed_group(world: Any) -> tuple[str, str, Callable[[], None]]:
    """A group like the world's whose alarm (on an error count) stops and rolls back its
    deployments: (group, alarm, count errors), errors counted as the new version's 5xx
    would be."""
    cloudwatch = world.client("cloudwatch")
    alarm = f"{world.name}-errors-{uuid.uuid4().hex[:4]}"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm, Namespace="Test/BlueGreen", MetricName="Errors", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0, TreatMissingData="notBreaching",
        ComparisonOperator="GreaterThanOrEqualToThreshold")
    group = extra_group(world, f"alarmed-{uuid.uuid4().hex[:4]}", alarmConfiguration={
        "enabled": True, "alarms": [{"name": alarm}]})
    return group, alarm, lambda: cloudwatch.put_metric_data(
        Namespace="Test/BlueGreen", MetricData=[{"MetricName": "Errors", "Value": 5.0}])


def test_a_tripped_alarm_stops_the_canary_and_rolls_back(world, shipyard) -> None:
    serving(world, shipyard, "1.1.0")
    group, alarm, count_errors = alarmed_group(world)
    lines: list[str] = []
    errors: list[float] = []

    def sleep(seconds: float) -> None:
        """Once the canary shifts, errors are counted until the deployment ends."""
        if shifting(lines):
            count_errors()
            errors.append(5.0)
        time.sleep(seconds)

    verdict, lines, _ = deploy(world, shipyard, "1.2.0", config=LONG_CANARY, group=group,
                               lines=lines, sleep=sleep)
    assert errors, lines  # the alarm's metric was fed only once the canary had started
    assert verdict.state == "failed" and verdict.rolled_back, verdict
    assert "stopped and was rolled back" in verdict.reason and alarm in verdict.reason
    assert only_version(world, "1.1.0") == {"1.1.0"}


def test_ctrl_c_mid_canary_stops_the_deployment_and_rolls_back(world, shipyard) -> None:
    serving(world, shipyard, "1.1.0")
    lines: list[str] = []
    requests = Requests(world.url(80))

    def sleep(seconds: float) -> None:
        """Ctrl-C lands in the follower's pause once the canary serves 1.2.0 (the 30 s
        canary leaves time for the request loop to meet it)."""
        if shifting(lines) and "1.2.0" in requests.versions and not any(
                "Ctrl-C" in line for line in lines):
            raise KeyboardInterrupt
        time.sleep(seconds)

    with requests, pytest.raises(DeployInterrupted) as raised:
        deploy(world, shipyard, "1.2.0", config=LONG_CANARY, lines=lines, sleep=sleep)
    verdict = raised.value.verdict
    assert verdict.state == "failed" and verdict.rolled_back, verdict
    assert verdict.reason.startswith("interrupted (Ctrl-C); deployment ")
    assert "stopped and was rolled back" in verdict.reason
    assert "1.2.0" in requests.versions  # it was mid-canary
    assert requests.failed == [], requests.failed[:5]
    assert only_version(world, "1.1.0") == {"1.1.0"}


def test_a_deployment_ready_for_traffic_continues_only_with_approve_traffic(
        world, shipyard) -> None:
    serving(world, shipyard, "1.1.0")
    group = extra_group(world, f"ready-{uuid.uuid4().hex[:4]}", blueGreenDeploymentConfiguration={
        "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT",
                                  "waitTimeInMinutes": 60},  # 2 minutes at the time scale
        "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                      "terminationWaitTimeInMinutes": 0}})
    lines: list[str] = []
    at_ready: list[tuple[str | None, str | None]] = []

    def sleep(seconds: float) -> None:
        """Without approval: once it has said it waits, look at both listeners a few times,
        then give up (Ctrl-C), which stops it."""
        if any("waits for approval" in line for line in lines) and len(at_ready) < 3:
            at_ready.append((world.served_version(80), world.served_version(8080)))
            if len(at_ready) == 3:
                raise KeyboardInterrupt  # once; the follower then stops and follows it
        time.sleep(seconds)

    with Requests(world.url(80)) as requests, pytest.raises(DeployInterrupted) as raised:
        deploy(world, shipyard, "1.2.0", group=group, lines=lines, sleep=sleep)
    # production stayed on 1.1.0 while the test listener served 1.2.0, and nothing continued
    assert at_ready and set(at_ready) == {("1.1.0", "1.2.0")}, at_ready
    assert set(requests.versions) == {"1.1.0"} and requests.failed == []
    assert len([line for line in lines if "waits for approval" in line]) == 1
    stopped = raised.value.verdict
    assert stopped.rolled_back and "stopped and was rolled back" in stopped.reason, stopped
    # with approve_traffic, the same wait ends in ContinueDeployment and success
    verdict, lines, _ = deploy(world, shipyard, "1.2.0", group=group, approve_traffic=True)
    assert verdict.state == "succeeded", lines
    assert any(line.startswith("traffic approved (--approve-traffic)") for line in lines)
    assert only_version(world, "1.2.0") == {"1.2.0"}


# --- the same through `shipyard deploy production` ------------------------------------------


@contextlib.contextmanager
def configured(world: Any, old: str, new: str) -> Iterator[None]:
    """The world's shipyard.toml with `old` replaced by `new` for the block's duration."""
    path = world.repo.project / "shipyard.toml"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    try:
        yield
    finally:
        path.write_text(text)


def _production_state(world: Any) -> tuple[Any, ...]:
    """What a blue/green deploy would change: the family's revisions, the service's count,
    task sets and deployments, and the group's CodeDeploy deployments."""
    service = world.service("production")
    deployments = world.client("codedeploy").list_deployments(
        applicationName=world.name, deploymentGroupName=f"{world.name}-production")
    return (world.task_definitions("production"), service["desiredCount"],
            [(t["id"], t["status"], t["scale"]) for t in service.get("taskSets", [])],
            sorted(deployments["deployments"]))


def test_deploy_production_dry_run_writes_nothing(world, shipyard) -> None:
    world.push(shipyard, "1.3.0")
    before = _production_state(world)
    result = world.run(shipyard, "deploy", "production", "--version", "1.3.0",
                       "--deployment-config", CANARY, "--dry-run")
    assert result.code == 0, result.out + result.err
    assert "dry run: would register the definition and deploy it to" in result.out
    assert "(blue_green)" in result.out and "nothing was written" in result.out
    assert '"image":' in result.out  # the diff names the new image
    assert _production_state(world) == before


def test_deploy_group_is_overridden_by_deployment_group(world, shipyard) -> None:
    group = extra_group(world, "override")
    before = _production_state(world)
    planned = world.run(shipyard, "deploy", "production", "--version", "1.3.0",
                        "--deployment-group", group, "--dry-run", "--json")
    assert planned.code == 0, planned.out + planned.err
    codedeploy = planned.json()["plan"]["codedeploy"]
    assert codedeploy["group"] == group
    assert codedeploy["deployment_config"] == "CodeDeployDefault.ECSAllAtOnce (the group's)"
    missing = world.run(shipyard, "deploy", "production", "--version", "1.3.0",
                        "--deployment-group", "no-such-group", "--dry-run")
    assert missing.code != 0 and "no-such-group" in missing.err, missing.err
    assert _production_state(world) == before


def test_deploy_production_with_a_canary_config_fails_no_request(world, shipyard) -> None:
    world.push(shipyard, "1.3.0")
    with Requests(world.url(80)) as requests:
        result = world.run(shipyard, "deploy", "production", "--version", "1.3.0",
                           "--deployment-config", CANARY, "--yes")
    assert result.code == 0, result.out + result.err
    assert requests.failed == [], requests.failed[:5]
    versions = requests.versions
    assert versions[0] == "1.2.0" and versions[-1] == "1.3.0"
    assert "1.2.0" in versions[versions.index("1.3.0"):]  # the canary: both answered
    shown = result.out + result.err  # the progress lines go to stderr, the summary to stdout
    assert shown.index("traffic: Blue 90%, Green 10%") < shown.index(
        "traffic: Blue 0%, Green 100%")
    assert f"config {CANARY}" in shown
    # the task sets' counts, as GetDeploymentTarget reports them: the green one ran its two
    assert re.search(r"ecs-svc/\S+  \S+  2/2 running  0 pending  Green", shown), shown
    assert only_version(world, "1.3.0") == {"1.3.0"}


def test_deploy_production_with_a_failing_hook_exits_15_and_rolls_back(world, shipyard
                                                                       ) -> None:
    world.push(shipyard, "1.4.0")
    with failing_hook(world) as function, configured(
            world, "timeout = 180.0\n",
            f'timeout = 180.0\nhooks = {{AfterAllowTestTraffic = "{function}"}}\n'):
        result = world.run(shipyard, "deploy", "production", "--version", "1.4.0", "--yes")
    assert result.code == DEPLOYMENT_FAILED, result.out + result.err
    assert "error: deploy production failed" in result.err
    assert f"AfterAllowTestTraffic hook {function} reported Failed" in result.out + result.err
    assert "rolled back" in result.out + result.err
    assert only_version(world, "1.3.0") == {"1.3.0"}


def test_ctrl_c_during_deploy_production_stops_and_rolls_back(world, shipyard) -> None:
    world.push(shipyard, "1.4.0")
    requests = Requests(world.url(80), on_version=("1.4.0", lambda: signal.pthread_kill(
        threading.main_thread().ident, signal.SIGINT)))  # Ctrl-C, once 1.4.0 answers
    with requests:
        result = world.run(shipyard, "deploy", "production", "--version", "1.4.0",
                           "--deployment-config", LONG_CANARY, "--yes", "--json")
    shown = result.out + result.err
    assert result.code == INTERRUPTED, shown
    assert "1.4.0" in requests.versions, shown
    assert requests.failed == [], requests.failed[:5]
    cd = world.client("codedeploy")
    stopped = cd.batch_get_deployments(deploymentIds=cd.list_deployments(
        applicationName=world.name, deploymentGroupName=f"{world.name}-production",
        includeOnlyStatuses=["Stopped"])["deployments"] or ["d-NONE00000"])["deploymentsInfo"]
    assert stopped, shown
    info = max(stopped, key=lambda i: i["createTime"])  # this test's, the newest
    assert info["description"].endswith(" 1.4.0"), info
    assert info["errorInformation"]["code"] == "MANUAL_STOP" and info["rollbackInfo"], info
    assert only_version(world, "1.3.0") == {"1.3.0"}


def test_deploy_production_approve_traffic_continues_a_deployment_at_ready(world, shipyard
                                                                           ) -> None:
    world.push(shipyard, "1.4.0")
    group = extra_group(world, f"ready-{uuid.uuid4().hex[:4]}", blueGreenDeploymentConfiguration={
        "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT",
                                  "waitTimeInMinutes": 60},
        "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                      "terminationWaitTimeInMinutes": 0}})
    with configured(world, f'codedeploy_group = "{world.name}-production"',
                    f'codedeploy_group = "{group}"'):
        result = world.run(shipyard, "deploy", "production", "--version", "1.4.0",
                           "--approve-traffic", "--yes")
    assert result.code == 0, result.out + result.err
    assert "traffic approved (--approve-traffic)" in result.err  # a progress line
    assert only_version(world, "1.4.0") == {"1.4.0"}


def test_deploy_production_stopped_by_a_tripped_alarm_exits_15(world, shipyard) -> None:
    world.push(shipyard, "1.5.0")
    group, alarm, count_errors = alarmed_group(world)
    done = threading.Event()

    def counting() -> None:  # once 1.5.0 answers: its errors, every 0.5 s, for at most 2 min
        for _ in range(240):
            if done.wait(0.5):
                return
            count_errors()

    counter = threading.Thread(target=counting, daemon=True)
    with configured(world, f'codedeploy_group = "{world.name}-production"',
                    f'codedeploy_group = "{group}"'), \
            Requests(world.url(80), on_version=("1.5.0", counter.start)) as requests:
        result = world.run(shipyard, "deploy", "production", "--version", "1.5.0",
                           "--deployment-config", LONG_CANARY, "--yes")
    done.set()
    assert "1.5.0" in requests.versions  # the canary had started when errors were counted
    assert result.code == DEPLOYMENT_FAILED, result.out + result.err
    shown = result.out + result.err
    assert "stopped and was rolled back" in shown and alarm in shown
    assert only_version(world, "1.4.0") == {"1.4.0"}
