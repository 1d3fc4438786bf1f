"""CloudWatch metrics: the deployment metrics `deploy` and `rollback` put."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shipyard.adapters.aws import Aws, translated


class CloudWatchMetrics:
    """The CloudWatch call Shipyard makes, with errors translated."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws

    def put(self, namespace: str, data: Sequence[dict[str, Any]]) -> None:
        """PutMetricData: `data` as the API takes its MetricData (at most 1000 a call; a
        deployment puts four)."""
        with translated("cloudwatch:PutMetricData"):
            self._aws.client("cloudwatch").put_metric_data(Namespace=namespace,
                                                           MetricData=list(data))
