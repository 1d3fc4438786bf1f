"""CodeDeploy's ECS deployment configs as schedules of traffic shifts."""

from __future__ import annotations

import pytest

from shipyard_sandbox.codedeploy.configs import (
    PREDEFINED_ECS,
    ConfigError,
    TrafficRouting,
    parse_traffic_routing,
)


@pytest.mark.parametrize(("name", "shifts"), [
    ("CodeDeployDefault.ECSAllAtOnce", [(0.0, 100)]),
    ("CodeDeployDefault.ECSCanary10Percent5Minutes", [(0.0, 10), (300.0, 100)]),
    ("CodeDeployDefault.ECSCanary10Percent15Minutes", [(0.0, 10), (900.0, 100)]),
    ("CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
     [(0.0, 10)] + [(60.0, share) for share in range(20, 101, 10)]),
    ("CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
     [(0.0, 10)] + [(180.0, share) for share in range(20, 101, 10)]),
])
def test_the_predefined_configs_shift_as_codedeploy_documents(name, shifts) -> None:
    assert PREDEFINED_ECS[name].shifts() == shifts


def test_a_linear_step_that_does_not_divide_100_ends_at_100() -> None:
    assert TrafficRouting("TimeBasedLinear", 30, 2).shifts() == [
        (0.0, 30), (120.0, 60), (120.0, 90), (120.0, 100)]


def test_a_custom_config_round_trips_through_the_api_shape() -> None:
    routing = parse_traffic_routing({"type": "TimeBasedCanary", "timeBasedCanary": {
        "canaryPercentage": 20, "canaryInterval": 2}})
    assert routing == TrafficRouting("TimeBasedCanary", 20, 2)
    assert parse_traffic_routing(routing.to_api()) == routing


@pytest.mark.parametrize(("config", "message"), [
    (None, "required"),
    ({"type": "Blue"}, "not one of"),
    ({"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 0,
                                                      "linearInterval": 1}}, "1 to 99"),
    ({"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 10}}, "linearInterval"),
    ({"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": True,
                                                      "canaryInterval": 1}}, "canaryPercentage"),
    ({"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 10,
                                                      "canaryInterval": 9999}}, "2880"),
])
def test_configs_codedeploy_refuses_are_refused(config, message) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_traffic_routing(config)
