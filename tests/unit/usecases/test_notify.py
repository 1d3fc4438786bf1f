"""announce() with fake channels: what goes where, when, and that a failure is one warning."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from pathlib import Path

import pytest

from shipyard.config import Config, MetricsSettings, NotificationSettings
from shipyard.errors import AwsError
from shipyard.redaction import redact_output
from shipyard.usecases.context import Context
from shipyard.usecases.deploy.notify import announce
from shipyard.usecases.deploy.report import DeployReport

STARTED = DeployReport(
    command="deploy", environment="staging", service="gamepulse-staging", cluster="gamepulse",
    strategy="rolling", outcome="started", version="1.4.0",
    image="1.dkr.ecr.ap-northeast-2.amazonaws.com/gamepulse@sha256:" + "ab" * 32,
    task_definition="arn:aws:ecs:ap-northeast-2:1:task-definition/gamepulse-staging:7",
    deployment_id="ecs-svc/42", duration=0.0, reason="")
SUCCEEDED = replace(STARTED, outcome="succeeded", duration=83.4)
FAILED = replace(STARTED, outcome="failed", duration=61.0, rolled_back=True,
                 reason="circuit breaker: tasks failed to start | exit 1")


class Recorder:
    """Every fake channel at once: it records what it was asked, or raises `fail`."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple] = []
        self.fail = fail

    def _record(self, *call) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append(call)

    def account_id(self) -> str:
        self._record("sts")
        return "123456789012"

    def publish(self, topic_arn, message, subject, attributes) -> str:
        self._record("publish", topic_arn, message, subject, dict(attributes))
        return "m-1"

    def put(self, namespace, data) -> None:
        self._record("put", namespace, list(data))

    def post(self, url, payload, *, name) -> None:
        self._record("post", url, payload)

    def secret_string(self, secret_id) -> str:
        self._record("secret", secret_id)
        return self.secret_value

    secret_value = ""


def slack_url() -> str:
    return f"https://hooks.slack.invalid/services/T0/B0/{secrets.token_urlsafe(18)}"


def run(report: DeployReport, *, env=None, notifications=None, metrics=None,
        channels: Recorder | None = None, **failing: Recorder) -> tuple[Recorder, list[str]]:
    channels = channels or Recorder()
    adapters = {"sts": channels, "sns": channels, "metrics": channels, "webhook": channels,
                "secrets": channels, **failing}
    config = Config(notifications=notifications or NotificationSettings(
        sns_topic="gamepulse-deployments"), metrics=metrics or MetricsSettings())
    ctx = Context(env=env or {}, region="ap-northeast-2", **adapters)
    warnings: list[str] = []
    announce(report, config, ctx, warnings.append)
    return channels, warnings


def calls(recorder: Recorder, kind: str) -> list[tuple]:
    return [call[1:] for call in recorder.calls if call[0] == kind]


def test_start_publishes_to_the_topic_arn_of_this_account_and_region_and_counts_it() -> None:
    channels, warnings = run(STARTED)
    assert warnings == []
    [(arn, message, subject, attributes)] = calls(channels, "publish")
    assert arn == "arn:aws:sns:ap-northeast-2:123456789012:gamepulse-deployments"
    assert subject == "shipyard: gamepulse-staging 1.4.0 deploy to staging started"
    assert "Image: " + STARTED.image in message.splitlines()
    assert "Deployment: ecs-svc/42" in message.splitlines()
    assert attributes == {"environment": "staging", "outcome": "started",
                          "service": "gamepulse-staging", "command": "deploy"}
    [(namespace, data)] = calls(channels, "put")
    assert namespace == "Shipyard/Deployments"
    assert [(d["MetricName"], d["Value"], d["Unit"]) for d in data] == [("Deployments", 1,
                                                                         "Count")]
    assert data[0]["Dimensions"] == [{"Name": "Service", "Value": "gamepulse-staging"},
                                     {"Name": "Environment", "Value": "staging"}]
    assert calls(channels, "post") == []  # no Slack URL configured: nothing posted


def test_a_topic_arn_is_used_as_it_is_without_asking_sts() -> None:
    arn = "arn:aws:sns:eu-west-1:999999999999:elsewhere"
    channels, _ = run(STARTED, notifications=NotificationSettings(sns_topic=arn))
    assert calls(channels, "publish")[0][0] == arn
    assert calls(channels, "sts") == []


def test_success_and_failure_put_failures_rollbacks_and_the_duration() -> None:
    def values(report: DeployReport) -> dict[str, tuple[float, str]]:
        channels, _ = run(report)
        [(_, data)] = calls(channels, "put")
        return {d["MetricName"]: (d["Value"], d["Unit"]) for d in data}

    assert values(SUCCEEDED) == {"DeploymentFailures": (0, "Count"), "Rollbacks": (0, "Count"),
                                 "DeploymentDuration": (83.4, "Seconds")}
    assert values(FAILED) == {"DeploymentFailures": (1, "Count"), "Rollbacks": (1, "Count"),
                              "DeploymentDuration": (61.0, "Seconds")}
    # `shipyard rollback` that succeeded is a rollback too
    assert values(replace(SUCCEEDED, command="rollback"))["Rollbacks"] == (1, "Count")


def test_metrics_disabled_put_nothing_and_the_namespace_is_configurable() -> None:
    channels, _ = run(SUCCEEDED, metrics=MetricsSettings(enabled=False))
    assert calls(channels, "put") == []
    channels, _ = run(SUCCEEDED, metrics=MetricsSettings(namespace="Acme/Deploys"))
    assert calls(channels, "put")[0][0] == "Acme/Deploys"


def test_slack_gets_the_report_from_the_variable_and_the_url_is_masked_from_then_on() -> None:
    url = slack_url()
    channels, warnings = run(FAILED, env={"SLACK_WEBHOOK_URL": url})
    assert warnings == []
    [(posted_to, payload)] = calls(channels, "post")
    assert posted_to == url
    text = payload["text"]
    assert text.startswith(":x: *shipyard: gamepulse-staging 1.4.0 deploy to staging failed*")
    assert "*Outcome:* failed, rolled back" in text.splitlines()
    assert "*Duration:* 1m 1s" in text.splitlines()
    assert redact_output(f"posting to {url}") == "posting to ***"


def test_the_slack_url_comes_from_the_secret_when_the_variable_is_unset() -> None:
    url = slack_url()
    recorder = Recorder()
    recorder.secret_value = json.dumps({"url": url})
    channels, warnings = run(STARTED, channels=recorder, notifications=NotificationSettings(
        slack_webhook_env="TEAM_HOOK", slack_webhook_secret="gamepulse/slack"))
    assert warnings == []
    assert calls(channels, "secret") == [("gamepulse/slack",)]
    assert calls(channels, "post")[0][0] == url
    assert url not in redact_output(url)
    # the variable, when set, wins: the secret is not read
    channels, _ = run(STARTED, env={"TEAM_HOOK": url}, notifications=NotificationSettings(
        slack_webhook_env="TEAM_HOOK", slack_webhook_secret="gamepulse/slack"))
    assert calls(channels, "secret") == []


def test_a_secret_without_a_url_is_one_warning_naming_the_secret() -> None:
    recorder = Recorder()
    recorder.secret_value = '{"channel": "#deploys"}'
    _, warnings = run(STARTED, channels=recorder, notifications=NotificationSettings(
        slack_webhook_secret="gamepulse/slack"))
    assert warnings == ["Slack notification not sent: the secret gamepulse/slack holds no "
                        'webhook URL; put the URL in it (the whole SecretString, or JSON '
                        '{"url": "..."})']


def test_the_job_summary_is_written_at_the_end_only(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    run(STARTED, env=env)
    assert not summary.exists()
    run(FAILED, env=env)
    lines = summary.read_text().splitlines()
    assert lines[0] == "### shipyard deploy: gamepulse-staging to staging failed"
    for row in ("| Environment | staging |", "| Version | 1.4.0 |",
                f"| Image | {STARTED.image} |", "| Strategy | rolling |",
                "| Duration | 1m 1s |", "| Deployment | ecs-svc/42 |",
                "| Outcome | failed, rolled back |",
                "| Reason | circuit breaker: tasks failed to start \\| exit 1 |"):
        assert row in lines
    run(SUCCEEDED, env=env, notifications=NotificationSettings(job_summary=False))
    assert summary.read_text().splitlines() == lines  # job_summary = false: nothing more


@pytest.mark.parametrize("report", [STARTED, SUCCEEDED, FAILED], ids=lambda r: r.outcome)
def test_every_channel_failing_is_one_warning_each_and_announce_returns(
        report: DeployReport, tmp_path: Path) -> None:
    url = slack_url()
    broken = Recorder(fail=AwsError(f"sns:Publish failed: NotFound: no topic; see {url}"))
    folder = tmp_path / "not-a-file"
    folder.mkdir()  # GITHUB_STEP_SUMMARY names a folder: it cannot be appended to
    _, warnings = run(report, env={"SLACK_WEBHOOK_URL": url,
                                   "GITHUB_STEP_SUMMARY": str(folder)},
                      channels=broken)
    expected = ["SNS notification not sent", "Slack notification not sent",
                "deployment metrics not sent"]
    if report.outcome != "started":
        expected.insert(2, "job summary not written")
    assert [w.split(": ")[0] for w in warnings] == expected
    assert all("\n" not in w for w in warnings)
    assert not any(url in w or "/services/T0/B0/" in w for w in warnings)


def test_an_unexpected_exception_is_a_warning_too() -> None:
    _, warnings = run(STARTED, sns=Recorder(fail=KeyError("MessageId")))
    assert warnings == ["SNS notification not sent: KeyError: 'MessageId'"]
