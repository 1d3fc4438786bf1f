"""`shipyard deploy staging` announces itself: SNS messages at the start and the end reach a
queue subscribed to the topic, the Slack message reaches a webhook receiver on 127.0.0.1, the
job summary and the metrics are written, and the webhook's URL is in no output, even with
`--verbose`. A webhook that answers 500 is a warning: the good deployment still exits 0.

This module has its own world (a module-scoped fixture): its project gains a
[notifications] table naming a topic made here.
"""

from __future__ import annotations

import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard.call_log import disable_verbose

pytestmark = pytest.mark.integration


class Hook:
    """A webhook receiver on 127.0.0.1: what it was sent; it answers `status`."""

    def __init__(self) -> None:
        self.status, self.bodies = 200, []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.token = "xoxwh" + secrets.token_urlsafe(24)
        self.url = (f"http://127.0.0.1:{self.server.server_address[1]}"
                    f"/services/T0WORLD/B0WORLD/{self.token}")

    def texts(self) -> list[str]:
        return [json.loads(body)["text"] for body in self.bodies]


@pytest.fixture
def hook() -> Iterator[Hook]:
    made = Hook()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture(scope="module")
def subscribed(world) -> dict[str, str]:
    """A topic with a queue subscribed, named in the world's [notifications]."""
    sns, sqs = world.client("sns"), world.client("sqs")
    topic = sns.create_topic(Name=f"{world.name}-deployments")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{world.name}-deployments")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    config = world.repo.project / "shipyard.toml"
    config.write_text(config.read_text() + f'\n[notifications]\nsns_topic = '
                                           f'"{world.name}-deployments"\n')
    world.repo.git("commit", "-q", "-am", "notifications")
    return {"topic": topic, "queue": queue}


@pytest.fixture
def loud(loud_libraries) -> Iterator[None]:
    """The libraries at DEBUG; --verbose, which the command turns on, off again after."""
    yield
    disable_verbose()


def queued(world, queue: str) -> list[dict]:
    """The messages in the queue (bounded: a few receives of up to 10), as SNS raw delivery
    put them: the text, and the attributes."""
    sqs, found = world.client("sqs"), []
    for _ in range(5):
        answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                     MessageAttributeNames=["All"], WaitTimeSeconds=1)
        if not answer.get("Messages"):
            break
        for message in answer["Messages"]:
            found.append({"text": message["Body"], "attributes": {
                k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}})
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_deploy_announces_its_start_and_success_everywhere(world, shipyard, subscribed, hook,
                                                             loud, caplog,
                                                             tmp_path: Path) -> None:
    world.push(shipyard, "1.1.0")
    summary = tmp_path / "summary.md"
    result = world.run(shipyard, "--verbose", "deploy", "staging", "--version", "1.1.0",
                       env={"SLACK_WEBHOOK_URL": hook.url, "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.code == 0, result.err
    assert "warning:" not in result.err

    service = f"{world.name}-staging"
    messages = queued(world, subscribed["queue"])
    assert [m["attributes"]["outcome"] for m in messages] == ["started", "succeeded"]
    assert {m["attributes"]["environment"] for m in messages} == {"staging"}
    done = messages[1]["text"].splitlines()
    assert done[0] == f"shipyard: {service} 1.1.0 deploy to staging succeeded"
    assert "Strategy: rolling" in done and "Outcome: succeeded" in done
    image = world.push(shipyard, "1.1.0")
    assert f"Image: {image}" in done
    assert any(line.startswith("Deployment: ecs-svc/") for line in done)

    texts = hook.texts()
    assert [t.splitlines()[0] for t in texts] == [
        f":rocket: *shipyard: {service} 1.1.0 deploy to staging started*",
        f":white_check_mark: *shipyard: {service} 1.1.0 deploy to staging succeeded*"]

    lines = summary.read_text().splitlines()
    assert lines[0] == f"### shipyard deploy: {service} to staging succeeded"
    assert f"| Image | {image} |" in lines and "| Version | 1.1.0 |" in lines

    cloudwatch = world.client("cloudwatch")
    dimensions = [{"Name": "Service", "Value": service},
                  {"Name": "Environment", "Value": "staging"}]
    now = datetime.now(UTC)
    answer = cloudwatch.get_metric_data(MetricDataQueries=[{
        "Id": name.lower(), "MetricStat": {"Metric": {
            "Namespace": "Shipyard/Deployments", "MetricName": name,
            "Dimensions": dimensions}, "Period": 3600, "Stat": "Sum"}}
        for name in ("Deployments", "DeploymentFailures", "DeploymentDuration")],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5))
    values = {r["Id"]: r["Values"] for r in answer["MetricDataResults"]}
    assert values["deployments"] == [1] and values["deploymentfailures"] == [0]
    assert len(values["deploymentduration"]) == 1 and values["deploymentduration"][0] > 0

    # the webhook's call is shown, masked; httpx logged its own line at DEBUG; the secret
    # path is nowhere
    assert "webhook POST http://127.0.0.1:" in result.err and "/*** 200 " in result.err
    assert "httpx HTTP Request: POST ***" in result.err and "botocore" in caplog.text
    for output in (result.out, result.err, caplog.text):
        assert hook.token not in output and "B0WORLD" not in output


def test_a_webhook_answering_500_is_a_warning_and_the_deploy_still_succeeds(
        world, shipyard, subscribed, hook) -> None:
    hook.status = 500
    image = world.push(shipyard, "1.2.0")
    result = world.run(shipyard, "--verbose", "deploy", "staging", "--image", image,
                       env={"SLACK_WEBHOOK_URL": hook.url})
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if "warning: " in line]
    assert len(warnings) == 2, result.err  # at the start and at the end, one line each
    assert all("Slack notification not sent: Slack webhook 127.0.0.1:" in w
               and "answered 500" in w for w in warnings)
    assert len(hook.bodies) == 2  # one attempt each: no retries
    assert hook.token not in result.out + result.err and "B0WORLD" not in result.err
    assert [m["attributes"]["outcome"] for m in queued(world, subscribed["queue"])] == [
        "started", "succeeded"]
    assert world.served_version(8081) == "1.2.0"
