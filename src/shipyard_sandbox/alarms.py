"""CloudWatch metric alarms evaluated on the metrics the sandbox holds (moto never does).

Every `EVALUATION_INTERVAL` (AWS time, scaled), each metric alarm of moto's CloudWatch is
evaluated as CloudWatch does: the alarm's statistic over each of its last `EvaluationPeriods`
periods (a period is `Period` seconds of AWS time, scaled like every sandbox wait), each
period's datapoint compared with the threshold, missing datapoints treated as
`TreatMissingData` says, and the alarm in ALARM when at least `DatapointsToAlarm` (default
`EvaluationPeriods`) of them breach. A change of state is recorded with CloudWatch's kind of
reason ("Threshold Crossed: 1 out of the last 1 datapoints [5.0 (...)] was greater than or
equal to the threshold (1.0) ..."), so `DescribeAlarms` reads as on AWS, and CodeDeploy's
alarm check sees real states.

Not modelled: metric-math and anomaly-detection alarms and composite alarms (left as moto
keeps them), percentile statistics, alarm actions (SNS notifications), the look-back
CloudWatch does past the evaluation range for `missing` data, units, and
`DescribeAlarmHistory` (moto does not answer it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shipyard_sandbox import timescale

EVALUATION_INTERVAL = 60.0  # AWS time between evaluations (CloudWatch: every minute)
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
_WORDS = {"GreaterThanOrEqualToThreshold": "greater than or equal to",
          "GreaterThanThreshold": "greater than",
          "LessThanThreshold": "less than",
          "LessThanOrEqualToThreshold": "less than or equal to"}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, limit: value >= limit,
    "GreaterThanThreshold": lambda value, limit: value > limit,
    "LessThanThreshold": lambda value, limit: value < limit,
    "LessThanOrEqualToThreshold": lambda value, limit: value <= limit,
}


@dataclass(frozen=True)
class Sample:
    """What one datum adds to a period: a value, or a statistic set."""

    sum: float
    minimum: float
    maximum: float
    count: float


def statistic(samples: Iterable[Sample], name: str) -> float | None:
    """`name` over the samples of one period; None when there are none."""
    samples = list(samples)
    if not samples:
        return None
    total, count = sum(s.sum for s in samples), sum(s.count for s in samples)
    return {"Sum": total, "SampleCount": count,
            "Average": total / count if count else 0.0,
            "Minimum": min(s.minimum for s in samples),
            "Maximum": max(s.maximum for s in samples)}[name]


def evaluate(values: list[float | None], *, comparison: str, threshold: float,
             datapoints_to_alarm: int, treat_missing: str | None) -> str | None:
    """The state for `values` (oldest first, None = no datapoint): ALARM, OK or
    INSUFFICIENT_DATA; None means "keep the current state" (`ignore` with nothing to go on)."""
    compare = _COMPARE[comparison]
    treat = treat_missing or "missing"
    if all(value is None for value in values):
        return {"breaching": "ALARM", "notBreaching": "OK", "ignore": None}.get(
            treat, "INSUFFICIENT_DATA")
    breaching = sum(1 for value in values if value is not None and compare(value, threshold))
    if treat == "breaching":
        breaching += sum(1 for value in values if value is None)
    return "ALARM" if breaching >= datapoints_to_alarm else "OK"


def reason(values: list[float | None], times: list[datetime], *, comparison: str,
           threshold: float, datapoints_to_alarm: int, state: str) -> str:
    """CloudWatch's wording for a threshold alarm's change of state."""
    shown = [(v, t) for v, t in zip(values, times, strict=True) if v is not None][::-1]
    points = ", ".join(f"{v} ({t.strftime('%d/%m/%y %H:%M:%S')})" for v, t in shown)
    breached = sum(1 for v, _ in shown if _COMPARE[comparison](v, threshold))
    if state == "INSUFFICIENT_DATA":
        return (f"Insufficient Data: {len(values)} datapoints were unknown.")
    words = _WORDS[comparison] if state == "ALARM" else f"not {_WORDS[comparison]}"
    counted = breached if state == "ALARM" else len(shown) - breached
    move = "OK -> ALARM" if state == "ALARM" else "ALARM -> OK"
    return (f"Threshold Crossed: {counted} out of the last {len(values)} datapoints [{points}] "
            f"was {words} the threshold ({threshold}) (minimum {datapoints_to_alarm} "
            f"datapoint{'s' if datapoints_to_alarm != 1 else ''} for {move} transition).")


class AlarmEvaluator:
    """A thread evaluating the metric alarms of every CloudWatch backend moto holds."""

    def __init__(self, backends: Callable[[], Iterable[Any]]) -> None:
        self._backends = backends
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloudwatch alarms",
                                        daemon=True)

    def start(self) -> AlarmEvaluator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(timescale.scaled(EVALUATION_INTERVAL, floor=0.2)):
            for backend in list(self._backends()):
                for alarm in list(backend.alarms.values()):
                    try:
                        self.evaluate_alarm(backend, alarm)
                    except (KeyError, TypeError, ValueError, ZeroDivisionError):
                        continue  # an alarm of a kind not modelled is left as moto keeps it

    @staticmethod
    def evaluate_alarm(backend: Any, alarm: Any, now: datetime | None = None) -> None:
        if (alarm.metric_data_queries or alarm.rule or not alarm.metric_name
                or alarm.statistic not in STATISTICS or alarm.comparison_operator not in _COMPARE):
            return
        now = now or datetime.now(UTC)
        period = timedelta(seconds=timescale.scaled(float(alarm.period), floor=0.2))
        periods = int(alarm.evaluation_periods)
        starts = [now - period * (periods - index) for index in range(periods)]
        wanted = {(d.name, d.value) for d in alarm.dimensions}
        buckets: list[list[Sample]] = [[] for _ in starts]
        for datum in list(backend.metric_data):
            if (datum.namespace != alarm.namespace or datum.name != alarm.metric_name
                    or {(d.name, d.value) for d in datum.dimensions} != wanted):
                continue
            stamp = _aware(datum.timestamp)
            for index, start in enumerate(starts):
                if start <= stamp < start + period:
                    buckets[index].append(_sample(datum))
        values = [statistic(bucket, alarm.statistic) for bucket in buckets]
        needed = int(alarm.datapoints_to_alarm or periods)
        state = evaluate(values, comparison=alarm.comparison_operator,
                         threshold=float(alarm.threshold), datapoints_to_alarm=needed,
                         treat_missing=alarm.treat_missing_data)
        if state is None or state == alarm.state_value:
            return
        text = reason(values, starts, comparison=alarm.comparison_operator,
                      threshold=float(alarm.threshold), datapoints_to_alarm=needed, state=state)
        data = {"version": "1.0", "queryDate": now.isoformat(), "statistic": alarm.statistic,
                "period": alarm.period, "threshold": float(alarm.threshold),
                "recentDatapoints": [v for v in values if v is not None]}
        alarm.update_state(text, json.dumps(data), state)


def _aware(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _sample(datum: Any) -> Sample:
    if hasattr(datum, "sample_count"):  # a statistic set
        return Sample(float(datum.sum), float(datum.min), float(datum.max),
                      float(datum.sample_count))
    value = float(datum.value)
    return Sample(value, value, value, 1.0)


def moto_backends() -> Iterable[Any]:
    """Every CloudWatch backend moto has made (one per account and region in use)."""
    from moto.cloudwatch.models import cloudwatch_backends

    for account in list(cloudwatch_backends.keys()):
        regions = cloudwatch_backends[account]
        yield from [regions[name] for name in list(regions.keys())]
