"""CodeDeploy deployment configs for ECS, and the traffic shifts each one makes.

The five predefined ECS configs are CodeDeploy's own (they cannot be created, changed or
deleted); `CreateDeploymentConfig` adds custom ones with a `trafficRoutingConfig`. A config
becomes a schedule of shifts: how long to wait (in AWS time, before the time scale) and what
share of production traffic the replacement task set then receives.

- AllAtOnce: everything at once.
- TimeBasedCanary (P, I minutes): P% at once, the rest I minutes later.
- TimeBasedLinear (P, I minutes): P% at once, then P% more every I minutes until 100%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALL_AT_ONCE, CANARY, LINEAR = "AllAtOnce", "TimeBasedCanary", "TimeBasedLinear"
MAX_INTERVAL_MINUTES = 2880  # CodeDeploy's limit for canaryInterval / linearInterval (2 days)


class ConfigError(ValueError):
    """A trafficRoutingConfig CodeDeploy would refuse; the message is CodeDeploy's kind."""


@dataclass(frozen=True)
class TrafficRouting:
    type: str
    percentage: int = 0  # canaryPercentage or linearPercentage
    interval_minutes: int = 0  # canaryInterval or linearInterval

    def shifts(self) -> list[tuple[float, int]]:
        """[(seconds to wait first, replacement's percentage after the shift), ...]."""
        if self.type == ALL_AT_ONCE:
            return [(0.0, 100)]
        interval = self.interval_minutes * 60.0
        if self.type == CANARY:
            return [(0.0, self.percentage), (interval, 100)]
        steps, share = [(0.0, self.percentage)], self.percentage
        while share < 100:
            share = min(100, share + self.percentage)
            steps.append((interval, share))
        return steps

    def to_api(self) -> dict[str, Any]:
        """The `trafficRoutingConfig` as GetDeploymentConfig answers it."""
        if self.type == ALL_AT_ONCE:
            return {"type": ALL_AT_ONCE}
        key = "timeBasedCanary" if self.type == CANARY else "timeBasedLinear"
        prefix = "canary" if self.type == CANARY else "linear"
        return {"type": self.type, key: {f"{prefix}Percentage": self.percentage,
                                          f"{prefix}Interval": self.interval_minutes}}


PREDEFINED_ECS: dict[str, TrafficRouting] = {
    "CodeDeployDefault.ECSAllAtOnce": TrafficRouting(ALL_AT_ONCE),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": TrafficRouting(CANARY, 10, 5),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": TrafficRouting(CANARY, 10, 15),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": TrafficRouting(LINEAR, 10, 1),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": TrafficRouting(LINEAR, 10, 3),
}


def parse_traffic_routing(config: dict[str, Any] | None) -> TrafficRouting:
    """A `trafficRoutingConfig` from CreateDeploymentConfig, checked as CodeDeploy checks it."""
    if not config:
        raise ConfigError("trafficRoutingConfig is required for the ECS compute platform")
    kind = config.get("type")
    if kind == ALL_AT_ONCE:
        return TrafficRouting(ALL_AT_ONCE)
    if kind not in (CANARY, LINEAR):
        raise ConfigError(f"trafficRoutingConfig type {kind!r} is not one of {ALL_AT_ONCE}, "
                          f"{CANARY}, {LINEAR}")
    key, prefix = ("timeBasedCanary", "canary") if kind == CANARY else ("timeBasedLinear",
                                                                          "linear")
    body = config.get(key) or {}
    percentage, interval = body.get(f"{prefix}Percentage"), body.get(f"{prefix}Interval")
    for name, value, low, high in ((f"{prefix}Percentage", percentage, 1, 99),
                                   (f"{prefix}Interval", interval, 1, MAX_INTERVAL_MINUTES)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"{key}.{name} must be a whole number from {low} to {high}, "
                              f"not {value!r}")
    return TrafficRouting(kind, percentage, interval)
