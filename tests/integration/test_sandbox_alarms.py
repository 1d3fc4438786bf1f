"""The sandbox evaluates CloudWatch alarms on the metrics it holds, as CloudWatch does.

Through boto3 only: an alarm on a metric, datapoints put, and the alarm's state followed.
The session sandbox runs at the default time scale (30), so a 60 s period is 2 s here.
"""

from __future__ import annotations

import time

import boto3
import pytest

pytestmark = pytest.mark.integration


def _state(cloudwatch, name: str, wanted: str, limit: float = 20.0) -> dict:
    deadline = time.monotonic() + limit
    while True:
        alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        if alarm["StateValue"] == wanted or time.monotonic() > deadline:
            return alarm
        time.sleep(0.2)


def test_an_alarm_follows_its_metric(sandbox_env) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=sandbox_env["AWS_REGION"])
    dimensions = [{"Name": "LoadBalancer", "Value": "app/alarm-test/1"}]
    cloudwatch.put_metric_alarm(
        AlarmName="alarm-test-5xx", Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count", Dimensions=dimensions, Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching")
    cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
        {"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dimensions, "Value": 3.0}])
    alarm = _state(cloudwatch, "alarm-test-5xx", "ALARM")
    assert alarm["StateValue"] == "ALARM", alarm
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints "
                                           "[3.0 ")
    # no more errors: the datapoint ages out of the period and missing data does not breach
    alarm = _state(cloudwatch, "alarm-test-5xx", "OK")
    assert alarm["StateValue"] == "OK", alarm
    assert "not greater than or equal to the threshold" in alarm["StateReason"]
