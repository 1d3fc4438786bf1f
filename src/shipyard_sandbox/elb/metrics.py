"""AWS/ApplicationELB metrics from the requests the sandbox's listeners really served.

ALB publishes one datapoint a minute; here a period is `scaled(60)` seconds (2 s at the default
time scale, never below PERIOD_FLOOR), each published to moto's CloudWatch as one statistic set
(Sum, SampleCount, Minimum, Maximum) stamped with the time it is published. Published, when the
period saw requests: RequestCount, HTTPCode_Target_{2,3,4,5}XX_Count, TargetResponseTime,
HTTPCode_ELB_{3,4,5}XX_Count and HTTPCode_ELB_{500,502,503,504}_Count; HealthyHostCount and
UnHealthyHostCount of a target group in use, in a period where they changed or the group saw
requests (not every period: moto keeps every datapoint, and a sandbox left running should not
grow without bound).

Dimensions are AWS's: LoadBalancer = "app/NAME/ID", TargetGroup = "targetgroup/NAME/ID".
As on AWS, each request is counted under {LoadBalancer} and, when a target group was chosen,
under {LoadBalancer, TargetGroup} too. CloudWatch treats each combination of dimensions as a
metric of its own; moto's GetMetricStatistics matches a query's dimensions as a subset (so a
query by LoadBalancer alone would count such a request twice): `install` makes it match the
combination exactly, as CloudWatch does (moto's GetMetricData already does).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.cloudwatch import models as cloudwatch_models
from moto.cloudwatch.models import cloudwatch_backends

from shipyard_sandbox import timescale

NAMESPACE = "AWS/ApplicationELB"
PERIOD_FLOOR = 1.0


def load_balancer_dimension(load_balancer_arn: str) -> str:
    return load_balancer_arn.split(":loadbalancer/", 1)[1]


def target_group_dimension(target_group_arn: str) -> str:
    return target_group_arn.rsplit(":", 1)[1]


@dataclass
class _Stat:
    total: float = 0.0
    count: int = 0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float) -> None:
        self.total += value
        self.count += 1
        self.low, self.high = min(self.low, value), max(self.high, value)

    def merge(self, other: _Stat) -> None:
        self.total += other.total
        self.count += other.count
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)

    def statistic_values(self) -> dict[str, float]:
        return {"Sum": self.total, "SampleCount": float(self.count), "Minimum": self.low,
                "Maximum": self.high}


class MetricsRecorder:
    """Counts requests per (load balancer, target group) and publishes them each period."""

    def __init__(self, account_id: str, region: str,
                 host_counts: Callable[[], list[tuple[str, str, int, int]]]) -> None:
        self.account_id = account_id
        self.region = region
        self.host_counts = host_counts  # [(load balancer ARN, target group ARN, ok, bad)]
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str | None, str], _Stat] = defaultdict(_Stat)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_counts: dict[tuple[str, str], tuple[int, int]] = {}

    @property
    def period(self) -> float:
        return timescale.scaled(60, floor=PERIOD_FLOOR)

    def record(self, load_balancer_arn: str, target_group_arn: str | None, status: int, *,
               from_target: bool, response_time: float | None = None) -> None:
        """One request the listener answered (`from_target`: the status is the target's)."""
        names = ["RequestCount"]
        if from_target:
            names.append(f"HTTPCode_Target_{status // 100}XX_Count")
        elif status >= 300:
            names.append(f"HTTPCode_ELB_{status // 100}XX_Count")
            if status in (500, 502, 503, 504):
                names.append(f"HTTPCode_ELB_{status}_Count")
        with self._lock:
            for name in names:
                self._stats[(load_balancer_arn, target_group_arn, name)].add(1)
            if from_target and response_time is not None:
                self._stats[(load_balancer_arn, target_group_arn, "TargetResponseTime")].add(
                    response_time)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="elb-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(10)
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(self.period):  # ends with the sandbox
            self.flush()

    def flush(self) -> None:
        with self._lock:
            stats, self._stats = self._stats, defaultdict(_Stat)
        data: list[dict[str, Any]] = []
        by_balancer: dict[tuple[str, str], _Stat] = defaultdict(_Stat)
        for (lb, tg, name), stat in stats.items():
            unit = "Seconds" if name == "TargetResponseTime" else "Count"
            data.append({"MetricName": name, "Dimensions": _dimensions(lb, tg), "Unit": unit,
                         "StatisticValues": stat.statistic_values()})
            if tg is not None:
                by_balancer[(lb, name)].merge(stat)
        for (lb, name), stat in by_balancer.items():
            unit = "Seconds" if name == "TargetResponseTime" else "Count"
            data.append({"MetricName": name, "Dimensions": _dimensions(lb, None), "Unit": unit,
                         "StatisticValues": stat.statistic_values()})
        busy = {(lb, tg) for lb, tg, _ in stats}
        for lb, tg, healthy, unhealthy in self.host_counts():
            if self._last_counts.get((lb, tg)) == (healthy, unhealthy) and (lb, tg) not in busy:
                continue
            self._last_counts[(lb, tg)] = (healthy, unhealthy)
            for name, value in (("HealthyHostCount", healthy), ("UnHealthyHostCount", unhealthy)):
                stat = _Stat()
                stat.add(float(value))
                data.append({"MetricName": name, "Dimensions": _dimensions(lb, tg),
                             "Unit": "Count", "StatisticValues": stat.statistic_values()})
        if data:
            backend = cloudwatch_backends[self.account_id][self.region]
            backend.put_metric_data(NAMESPACE, data)


def _dimensions(load_balancer_arn: str, target_group_arn: str | None) -> list[dict[str, str]]:
    dimensions = [{"Name": "LoadBalancer", "Value": load_balancer_dimension(load_balancer_arn)}]
    if target_group_arn:
        dimensions.append({"Name": "TargetGroup",
                           "Value": target_group_dimension(target_group_arn)})
    return dimensions


_exact = threading.local()
_installed = False


def install() -> None:
    """Make moto's GetMetricStatistics match dimensions exactly, as CloudWatch does (once per
    process; only inside that call: ListMetrics still filters by a subset, as on AWS)."""
    global _installed
    if _installed:
        return
    _installed = True
    datum_cls = cloudwatch_models.MetricDatumBase
    backend_cls = cloudwatch_models.CloudWatchBackend
    original_filter = datum_cls.filter
    original_statistics = backend_cls.get_metric_statistics

    def filter(self, namespace, name, dimensions, already_present_metrics=None):
        if getattr(_exact, "on", False) and dimensions:
            mine = sorted((d.name, d.value) for d in self.dimensions)
            if mine != sorted((d["Name"], d.get("Value")) for d in dimensions):
                return False
        return original_filter(self, namespace, name, dimensions, already_present_metrics)

    def get_metric_statistics(self, *args, **kwargs):
        _exact.on = True
        try:
            return original_statistics(self, *args, **kwargs)
        finally:
            _exact.on = False

    datum_cls.filter = filter
    backend_cls.get_metric_statistics = get_metric_statistics
