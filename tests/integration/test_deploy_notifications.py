"""Deploy notifications on the sandbox: SNS messages reach subscribers (an SQS queue and an
HTTP endpoint, both delivered by moto), the Slack message reaches a webhook receiver on
127.0.0.1 without its URL in any output or log, and the metrics are in CloudWatch.

Each test has its own topic, service name and receiver, so they share the session's sandbox.
"""

from __future__ import annotations

import http.server
import io
import json
import secrets
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from shipyard.call_log import disable_verbose, enable_verbose
from shipyard.config import Config, MetricsSettings, NotificationSettings
from shipyard.usecases.context import Context
from shipyard.usecases.deploy.notify import announce
from shipyard.usecases.deploy.report import DeployReport

pytestmark = pytest.mark.integration


@dataclass
class Receiver:
    """What a local HTTP endpoint was sent; it answers `status` to each POST."""

    url: str
    status: int = 200
    bodies: list[bytes] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.bodies.append(body)
            state.paths.append(self.path)
            answer = b"ok" if state.status < 300 else b"internal_error"
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test reads what arrived, not the server's log

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def loud(loud_libraries) -> Iterator[io.StringIO]:
    """--verbose on, with the libraries under us at DEBUG (the hard case for secrets); what
    the verbose handler printed."""
    stream = io.StringIO()
    enable_verbose(stream=stream)
    yield stream
    disable_verbose()


def report(service: str, outcome: str = "started", **changes) -> DeployReport:
    base = DeployReport(
        command="deploy", environment="staging", service=service, cluster="gamepulse",
        strategy="rolling", outcome=outcome, version="1.4.0",
        image="127.0.0.1:5000/gamepulse@sha256:" + "ab" * 32,
        task_definition=f"arn:aws:ecs:ap-northeast-2:123456789012:task-definition/{service}:2",
        deployment_id="ecs-svc/1234567890", duration=0.0 if outcome == "started" else 42.5,
        reason="" if outcome != "failed" else "circuit breaker: tasks failed to start")
    return replace(base, **changes)


def run(sandbox_env: dict[str, str], report_: DeployReport, *, env: dict[str, str] | None = None,
        **notifications) -> list[str]:
    config = Config(notifications=NotificationSettings(**notifications),
                    metrics=MetricsSettings(enabled=False))
    ctx = Context(env={**sandbox_env, **(env or {})}, region=sandbox_env["AWS_REGION"])
    warnings: list[str] = []
    announce(report_, config, ctx, warnings.append)
    return warnings


def webhook_url(receiver: Receiver) -> tuple[str, str]:
    """A Slack-like URL on the receiver, and its secret part."""
    token = "xoxwh" + secrets.token_urlsafe(24)
    return f"{receiver.url}/services/T0SANDBOX/B0SANDBOX/{token}", token


def test_the_sns_message_reaches_a_queue_and_an_http_subscriber(sandbox_env,
                                                                receiver) -> None:
    region = sandbox_env["AWS_REGION"]
    sns, sqs = boto3.client("sns", region_name=region), boto3.client("sqs", region_name=region)
    name = f"deployments-{uuid.uuid4().hex[:8]}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=f"{receiver.url}/sns")

    # a topic name: the ARN is made with the sandbox's account (STS) and region
    warnings = run(sandbox_env, report("gamepulse-staging", "failed", rolled_back=True),
                   sns_topic=name)
    assert warnings == []

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=2)["Messages"]
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"] == "shipyard: gamepulse-staging 1.4.0 deploy to staging failed"
    lines = envelope["Message"].splitlines()
    for line in ("Environment: staging", "Version: 1.4.0", "Strategy: rolling",
                 "Deployment: ecs-svc/1234567890", "Outcome: failed, rolled back",
                 "Duration: 42s", "Reason: circuit breaker: tasks failed to start",
                 "Image: 127.0.0.1:5000/gamepulse@sha256:" + "ab" * 32):
        assert line in lines
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {"environment": "staging", "outcome": "failed",
                          "service": "gamepulse-staging", "command": "deploy"}
    # moto posts the same notification to the HTTP subscriber while Publish is answered
    assert receiver.paths == ["/sns"]
    assert json.loads(receiver.bodies[0])["Message"] == envelope["Message"]


def test_a_missing_topic_is_one_warning(sandbox_env) -> None:
    warnings = run(sandbox_env, report("gamepulse-staging"),
                   sns_topic=f"no-such-topic-{uuid.uuid4().hex[:8]}")
    assert len(warnings) == 1
    assert warnings[0].startswith("SNS notification not sent: sns:Publish failed: NotFound")


def test_the_slack_message_reaches_the_webhook_and_its_url_is_in_no_output(
        sandbox_env, receiver, loud, caplog) -> None:
    url, token = webhook_url(receiver)
    warnings = run(sandbox_env, report("gamepulse-staging", "succeeded"),
                   env={"SLACK_WEBHOOK_URL": url})
    assert warnings == []
    assert receiver.paths == [url.removeprefix(receiver.url)]
    text = json.loads(receiver.bodies[0])["text"]
    assert text.splitlines()[0] == (":white_check_mark: *shipyard: gamepulse-staging 1.4.0 "
                                    "deploy to staging succeeded*")
    assert "*Duration:* 42s" in text.splitlines()
    verbose = loud.getvalue()
    assert f"webhook POST {receiver.url}/*** 200 " in verbose  # the call is shown, masked
    assert "httpx HTTP Request: POST" in verbose  # httpx really logged its request line
    for output in (verbose, caplog.text, *warnings):
        assert token not in output and "B0SANDBOX" not in output


def test_the_slack_url_from_a_secrets_manager_secret(sandbox_env, receiver, loud,
                                                     caplog) -> None:
    url, token = webhook_url(receiver)
    name = f"gamepulse/slack-{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager", region_name=sandbox_env["AWS_REGION"]).create_secret(
        Name=name, SecretString=json.dumps({"url": url}))
    warnings = run(sandbox_env, report("gamepulse-staging"), slack_webhook_secret=name)
    assert warnings == [] and len(receiver.bodies) == 1
    # botocore logged GetSecretValue's answer at DEBUG; the URL in it is masked
    assert "secretsmanager.GetSecretValue 200" in loud.getvalue()
    for output in (loud.getvalue(), caplog.text):
        assert token not in output and "B0SANDBOX" not in output


@pytest.mark.parametrize("trouble", ["answers 500", "is down"])
def test_a_failing_webhook_is_one_warning_without_the_url(sandbox_env, receiver, loud, caplog,
                                                          trouble) -> None:
    url, token = webhook_url(receiver)
    if trouble == "is down":
        with socket.socket() as probe:  # a port nobody listens on any more
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = url.replace(receiver.url, f"http://127.0.0.1:{port}")
    else:
        receiver.status = 500
    warnings = run(sandbox_env, report("gamepulse-staging", "succeeded"),
                   env={"SLACK_WEBHOOK_URL": url})
    assert len(warnings) == 1
    expected = ("Slack notification not sent: Slack webhook 127.0.0.1:"
                + ("" if trouble == "is down" else receiver.url.rsplit(":", 1)[1]))
    assert warnings[0].startswith(expected), warnings
    assert ("answered 500: internal_error" if trouble == "answers 500"
            else "cannot be reached (ConnectError") in warnings[0]
    assert len(receiver.bodies) == (1 if trouble == "answers 500" else 0)  # not retried
    for output in (loud.getvalue(), caplog.text, *warnings):
        assert token not in output and "B0SANDBOX" not in output


def test_the_metrics_are_in_cloudwatch(sandbox_env) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    namespace = "Shipyard/Deployments"
    config = Config(metrics=MetricsSettings(namespace=namespace))
    ctx = Context(env=sandbox_env, region=sandbox_env["AWS_REGION"])
    warnings: list[str] = []
    for outcome, changes in (("started", {}), ("failed", {"rolled_back": True}),
                             ("started", {}), ("succeeded", {"duration": 20.0})):
        announce(report(service, outcome, **changes), config, ctx, warnings.append)
    assert warnings == []

    cloudwatch = boto3.client("cloudwatch", region_name=sandbox_env["AWS_REGION"])
    dimensions = [{"Name": "Service", "Value": service}, {"Name": "Environment",
                                                           "Value": "staging"}]
    listed = cloudwatch.list_metrics(Namespace=namespace, Dimensions=dimensions)["Metrics"]
    assert {m["MetricName"] for m in listed} == {"Deployments", "DeploymentFailures",
                                                 "Rollbacks", "DeploymentDuration"}
    now = datetime.now(UTC)
    queries = [{"Id": name.lower(), "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
        "Period": 3600, "Stat": stat}} for name, stat in (
            ("Deployments", "Sum"), ("DeploymentFailures", "Sum"), ("Rollbacks", "Sum"),
            ("DeploymentDuration", "Maximum"))]
    results = cloudwatch.get_metric_data(MetricDataQueries=queries,
                                         StartTime=now - timedelta(hours=1),
                                         EndTime=now + timedelta(minutes=5))
    values = {r["Id"]: sum(r["Values"]) for r in results["MetricDataResults"]}
    assert values == {"deployments": 2, "deploymentfailures": 1, "rollbacks": 1,
                      "deploymentduration": 42.5}


def test_the_job_summary_gets_the_report(sandbox_env, tmp_path: Path) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("## Build\n\npushed\n\n")  # an earlier step's section stays
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert run(sandbox_env, report("gamepulse-staging"), env=env) == []
    assert summary.read_text() == "## Build\n\npushed\n\n"  # nothing at the start
    assert run(sandbox_env, report("gamepulse-staging", "succeeded"), env=env) == []
    lines = summary.read_text().splitlines()
    assert lines[:4] == ["## Build", "", "pushed", ""]
    assert lines[4] == "### shipyard deploy: gamepulse-staging to staging succeeded"
    for row in ("| Environment | staging |", "| Version | 1.4.0 |", "| Strategy | rolling |",
                "| Duration | 42s |", "| Deployment | ecs-svc/1234567890 |",
                "| Outcome | succeeded |"):
        assert row in lines
