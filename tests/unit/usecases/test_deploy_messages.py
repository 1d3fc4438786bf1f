"""The texts a deploy report becomes: within SNS's limits, safe in Slack and in a table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shipyard.usecases.deploy import messages
from shipyard.usecases.deploy.report import DeployReport

REPORT = DeployReport(
    command="deploy", environment="production", service="gamepulse-production",
    cluster="gamepulse", strategy="blue_green", outcome="succeeded", version="2.0.0",
    image="r.example/gamepulse@sha256:" + "cd" * 32, task_definition="arn:td:9",
    deployment_id="d-ABCDEF123", duration=3725.2, reason="production runs 2.0.0")


@pytest.mark.parametrize(("region", "arn"), [
    ("ap-northeast-2", "arn:aws:sns:ap-northeast-2:111122223333:topic"),
    ("cn-northwest-1", "arn:aws-cn:sns:cn-northwest-1:111122223333:topic"),
    ("us-gov-west-1", "arn:aws-us-gov:sns:us-gov-west-1:111122223333:topic"),
])
def test_a_topic_name_becomes_the_arn_of_the_region_s_partition(region: str, arn: str) -> None:
    assert messages.topic_arn("topic", region, "111122223333") == arn
    assert messages.topic_arn(arn, "eu-west-1", "999") == arn


def test_the_subject_is_one_ascii_line_of_at_most_100_characters() -> None:
    assert messages.subject(REPORT) == ("shipyard: gamepulse-production 2.0.0 deploy to "
                                        "production succeeded")
    long = replace(REPORT, service="s" * 120, version="1.0.0-é\nx")
    subject = messages.subject(long)
    assert len(subject) == 100 and subject.endswith("...")
    assert subject.isascii() and "\n" not in subject
    assert messages.subject(replace(REPORT, version="")) == (
        "shipyard: gamepulse-production deploy to production succeeded")


def test_the_text_lists_what_the_issue_asks_for_in_reading_order() -> None:
    lines = messages.text(REPORT).splitlines()
    assert lines[0] == messages.subject(REPORT)
    assert lines[1:] == [
        "",
        "Environment: production",
        "Service: gamepulse-production (cluster gamepulse)",
        "Version: 2.0.0",
        "Image: r.example/gamepulse@sha256:" + "cd" * 32,
        "Strategy: blue/green",
        "Deployment: d-ABCDEF123",
        "Task definition: arn:td:9",
        "Outcome: succeeded",
        "Duration: 1h 2m 5s",
        "Reason: production runs 2.0.0",
    ]
    # at the start: no duration, no reason, no deployment id yet
    started = replace(REPORT, outcome="started", deployment_id="", reason="", duration=0.0)
    labels = [line.split(":")[0] for line in messages.text(started).splitlines()[2:]]
    assert "Duration" not in labels and "Reason" not in labels and "Deployment" not in labels


def test_slack_markup_in_values_is_escaped() -> None:
    payload = messages.slack_payload(replace(REPORT, outcome="failed",
                                             reason="<!channel> a & b > c"))
    assert "*Reason:* &lt;!channel&gt; a &amp; b &gt; c" in payload["text"].splitlines()
    assert payload["text"].startswith(":x: *")


def test_a_table_cell_stays_one_cell() -> None:
    summary = messages.job_summary(replace(REPORT, reason="a | b\nc"))
    assert "| Reason | a \\| b c |" in summary.splitlines()


def test_no_metrics_for_an_outcome_that_is_neither_start_nor_end() -> None:
    assert messages.metric_data(replace(REPORT, outcome="unknown")) == []
