"""The sandbox's time scale divides AWS's waits; it is never below 1 or not a number."""

from __future__ import annotations

import pytest

from shipyard_sandbox import timescale


@pytest.fixture(autouse=True)
def _restore() -> None:
    before = timescale.factor()
    yield
    timescale.set_factor(before)


def test_waits_are_divided_and_floored() -> None:
    timescale.set_factor(60)
    assert timescale.scaled(300) == 5.0
    assert timescale.scaled(30, floor=1.0) == 1.0


@pytest.mark.parametrize("factor", [0.5, 0.0, -1.0, float("nan"), float("inf")])
def test_a_factor_below_one_or_not_finite_is_refused(factor: float) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        timescale.set_factor(factor)
