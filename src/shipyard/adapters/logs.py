"""CloudWatch Logs: the log groups containers write to."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, translated


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
