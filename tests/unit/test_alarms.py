"""CloudWatch alarm evaluation: statistics per period, M of N, missing data, the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from moto.cloudwatch.models import Alarm, MetricAggregatedDatum, MetricDatum

from shipyard_sandbox import timescale
from shipyard_sandbox.alarms import AlarmEvaluator, Sample, evaluate, statistic

GE = "GreaterThanOrEqualToThreshold"


@pytest.fixture(autouse=True)
def _aws_time() -> None:
    before = timescale.factor()
    timescale.set_factor(1)  # periods as AWS has them: the test's timestamps are AWS time
    yield
    timescale.set_factor(before)


def test_statistics_over_values_and_statistic_sets() -> None:
    samples = [Sample(5, 5, 5, 1), Sample(10, 1, 7, 4)]
    assert [statistic(samples, s) for s in ("Sum", "SampleCount", "Average", "Minimum",
                                            "Maximum")] == [15, 5, 3.0, 1, 7]
    assert statistic([], "Sum") is None


@pytest.mark.parametrize(("values", "m", "treat", "state"), [
    ([5.0], 1, None, "ALARM"),
    ([0.0], 1, None, "OK"),
    ([5.0, 0.0, 5.0], 2, None, "ALARM"),  # 2 of 3
    ([5.0, 0.0, 0.0], 2, None, "OK"),
    ([None], 1, None, "INSUFFICIENT_DATA"),
    ([None], 1, "notBreaching", "OK"),
    ([None], 1, "breaching", "ALARM"),
    ([None], 1, "ignore", None),
    ([5.0, None], 2, "breaching", "ALARM"),
    ([5.0, None], 2, "notBreaching", "OK"),
])
def test_m_out_of_n_with_missing_data(values, m, treat, state) -> None:
    assert evaluate(values, comparison=GE, threshold=1.0, datapoints_to_alarm=m,
                    treat_missing=treat) == state


def _alarm(**changes) -> Alarm:
    options = dict(account_id="123456789012", region_name="ap-northeast-2", name="5xx",
                   namespace="AWS/ApplicationELB", metric_name="HTTPCode_Target_5XX_Count",
                   metric_data_queries=None, comparison_operator=GE, evaluation_periods=1,
                   datapoints_to_alarm=None, period=60, threshold=1.0, statistic="Sum",
                   extended_statistic=None, description="", dimensions=[
                       {"Name": "LoadBalancer", "Value": "app/gp/1"}],
                   alarm_actions=[], ok_actions=None, insufficient_data_actions=None, unit=None,
                   actions_enabled=True, treat_missing_data="notBreaching",
                   evaluate_low_sample_count_percentile=None, threshold_metric_id=None,
                   rule=None)
    options.update(changes)
    return Alarm(**options)


NOW = datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
DIMENSIONS = [{"Name": "LoadBalancer", "Value": "app/gp/1"}]


def test_an_alarm_goes_to_alarm_on_its_own_metric_and_says_why() -> None:
    alarm = _alarm()
    data = [MetricAggregatedDatum("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", 1, 3, 2, 4,
                                  DIMENSIONS, NOW - timedelta(seconds=30)),
            # other dimensions, another metric, too old: none of them count
            MetricDatum("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", 99,
                        [*DIMENSIONS, {"Name": "TargetGroup", "Value": "targetgroup/x/1"}],
                        NOW - timedelta(seconds=10)),
            MetricDatum("AWS/ApplicationELB", "RequestCount", 99, DIMENSIONS,
                        NOW - timedelta(seconds=10)),
            MetricDatum("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", 99, DIMENSIONS,
                        NOW - timedelta(seconds=90))]
    AlarmEvaluator.evaluate_alarm(SimpleNamespace(metric_data=data), alarm, now=NOW)
    assert alarm.state_value == "ALARM"
    assert alarm.state_reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints "
                                         "[4.0 (30/11/26 01:29:00)] was greater than or equal "
                                         "to the threshold (1.0)")
    AlarmEvaluator.evaluate_alarm(SimpleNamespace(metric_data=[]), alarm,
                                  now=NOW + timedelta(minutes=2))
    assert alarm.state_value == "OK" and "not greater than or equal" in alarm.state_reason
    assert [entry[3] for entry in alarm.history] == ["OK", "ALARM"]


def test_alarms_of_kinds_not_modelled_are_left_alone() -> None:
    alarm = _alarm(statistic=None, extended_statistic="p99")
    AlarmEvaluator.evaluate_alarm(SimpleNamespace(metric_data=[]), alarm, now=NOW)
    assert alarm.state_value == "OK" and alarm.history == []
