"""What a deploy report looks like in each place it goes: SNS text and subject, the Slack
message, the job summary, the CloudWatch metric data. Pure: `notify` sends them.

>>> report = DeployReport("deploy", "staging", "gamepulse-staging", "gamepulse", "rolling",
...                       "succeeded", "1.2.0", "r/gamepulse@sha256:ab", "arn:td:3",
...                       "ecs-svc/1", 83.4, "")
>>> subject(report)
'shipyard: gamepulse-staging 1.2.0 deploy to staging succeeded'
>>> [m["MetricName"] for m in metric_data(report)]
['DeploymentFailures', 'Rollbacks', 'DeploymentDuration']
"""

from __future__ import annotations

from typing import Any

from shipyard.usecases.deploy.report import DeployReport

SUBJECT_LIMIT = 100  # SNS refuses a longer subject
ENDED = ("succeeded", "failed")
_STRATEGIES = {"rolling": "rolling", "blue_green": "blue/green"}


def topic_arn(topic: str, region: str, account: str) -> str:
    """The topic's ARN: `topic` as it is when it is one, else a name in this account/region.

    >>> topic_arn("gamepulse-deployments", "ap-northeast-2", "123456789012")
    'arn:aws:sns:ap-northeast-2:123456789012:gamepulse-deployments'
    >>> topic_arn("t", "cn-north-1", "1")
    'arn:aws-cn:sns:cn-north-1:1:t'
    """
    if topic.startswith("arn:"):
        return topic
    partition = ("aws-cn" if region.startswith("cn-")
                 else "aws-us-gov" if region.startswith("us-gov-") else "aws")
    return f"arn:{partition}:sns:{region}:{account}:{topic}"


def duration_text(seconds: float) -> str:
    """
    >>> duration_text(83.4), duration_text(7.0), duration_text(3725)
    ('1m 23s', '7s', '1h 2m 5s')
    """
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def subject(report: DeployReport) -> str:
    """One short line (an SNS subject, an e-mail's): what, where, how it went."""
    version = f" {report.version}" if report.version else ""
    text = (f"shipyard: {report.service}{version} {report.command} to {report.environment} "
            f"{report.outcome}")
    # a subject is ASCII without line breaks, and at most 100 characters
    text = " ".join(text.encode("ascii", "replace").decode().split())
    return text if len(text) <= SUBJECT_LIMIT else text[:SUBJECT_LIMIT - 3] + "..."


def fields(report: DeployReport) -> list[tuple[str, str]]:
    """The report as (label, value) pairs, in the order people read them; empty ones left
    out (no deployment id before the start, no reason while it goes well)."""
    pairs = [
        ("Environment", report.environment),
        ("Service", f"{report.service} (cluster {report.cluster})"),
        ("Version", report.version),
        ("Image", report.image),
        ("Strategy", _STRATEGIES.get(report.strategy, report.strategy)),
        ("Deployment", report.deployment_id),
        ("Task definition", report.task_definition),
        ("Outcome", report.outcome + (", rolled back" if report.rolled_back else "")),
        ("Duration", duration_text(report.duration) if report.outcome in ENDED else ""),
        ("Reason", report.reason),
    ]
    return [(label, value) for label, value in pairs if value]


def text(report: DeployReport) -> str:
    """The SNS message: the subject, then one `Label: value` line per field."""
    return "\n".join([subject(report), "", *(f"{label}: {value}"
                                             for label, value in fields(report))])


def slack_payload(report: DeployReport) -> dict[str, Any]:
    """An incoming-webhook message: `text` alone, which every Slack client shows."""
    icon = {"started": ":rocket:", "succeeded": ":white_check_mark:",
            "failed": ":x:"}.get(report.outcome, "")
    lines = [f"{icon} *{_slack_escape(subject(report))}*".strip(),
             *(f"*{label}:* {_slack_escape(value)}" for label, value in fields(report))]
    return {"text": "\n".join(lines)}


def _slack_escape(value: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup (links, mentions); these three are escaped.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def job_summary(report: DeployReport) -> str:
    """The GitHub job summary: a heading and a two-column table."""
    heading = (f"### shipyard {report.command}: {report.service} to {report.environment} "
               f"{report.outcome}")
    rows = [f"| {label} | {_cell(value)} |" for label, value in fields(report)]
    return "\n".join([heading, "", "| | |", "|---|---|", *rows])


def _cell(value: str) -> str:
    # a table cell is one line, and `|` would end it
    return " ".join(value.replace("|", "\\|").split())


def metric_data(report: DeployReport) -> list[dict[str, Any]]:
    """The MetricData for PutMetricData; dimensions Service and Environment.

    At the start: Deployments 1. At the end: DeploymentFailures 1 or 0, Rollbacks 1 or 0
    (the service was rolled back, or `shipyard rollback` succeeded), DeploymentDuration in
    seconds. Zeros are put too, so that the Average of a count is a rate. No timestamp:
    CloudWatch stamps each datum when it arrives, which is when it happened.
    """
    dimensions = [{"Name": "Service", "Value": report.service},
                  {"Name": "Environment", "Value": report.environment}]

    def datum(name: str, value: float, unit: str) -> dict[str, Any]:
        return {"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit}

    if report.outcome == "started":
        return [datum("Deployments", 1, "Count")]
    if report.outcome not in ENDED:
        return []
    failed = report.outcome == "failed"
    rolled_back = report.rolled_back or (report.command == "rollback" and not failed)
    return [datum("DeploymentFailures", 1 if failed else 0, "Count"),
            datum("Rollbacks", 1 if rolled_back else 0, "Count"),
            datum("DeploymentDuration", round(report.duration, 3), "Seconds")]
