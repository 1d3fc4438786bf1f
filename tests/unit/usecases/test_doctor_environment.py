"""Doctor's environment checks: a task that crashed is told from one ECS stopped as planned
(the environment checks themselves run on the sandbox: tests/integration/deploy)."""

from __future__ import annotations

import pytest

from shipyard.usecases.doctor.environment import _crashed


@pytest.mark.parametrize(("reason", "exit_codes", "crashed"), [
    ("Essential container in task exited", [1], True),
    ("Task failed ELB health checks in (target-group arn)", [None], True),
    ("Scaling activity initiated by (deployment ecs-svc/123)", [143], False),
    ("Task stopped by user", [137], False),
    ("", [2], True),
    ("", [0], False),
])
def test_a_crash_is_told_from_a_planned_stop(reason: str, exit_codes: list, crashed: bool
                                             ) -> None:
    assert _crashed(reason, [{"exitCode": code} for code in exit_codes]) is crashed
