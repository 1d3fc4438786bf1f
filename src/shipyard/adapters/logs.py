"""CloudWatch Logs: the log groups containers write to."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, translated
from shipyard.errors import NotFoundError


class CloudWatchLogs:
    """The CloudWatch Logs lookups Shipyard makes."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws

    def log_group_exists(self, name: str) -> bool:
        """Whether a log group of exactly this name exists."""
        with translated("logs:DescribeLogGroups"):
            pages = self._aws.client("logs").get_paginator("describe_log_groups").paginate(
                logGroupNamePrefix=name)
            return any(group["logGroupName"] == name for page in pages
                       for group in page.get("logGroups", []))

    def last_lines(self, group: str, stream: str, count: int = 5) -> list[str]:
        """The last `count` lines of a stream; none when it does not exist (yet)."""
        client = self._aws.client("logs")
        try:
            with translated("logs:GetLogEvents"):
                events = client.get_log_events(logGroupName=group, logStreamName=stream,
                                               limit=count, startFromHead=False)["events"]
        except NotFoundError:
            return []
        return [str(event.get("message", "")).rstrip("\n") for event in events]
