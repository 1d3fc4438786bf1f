"""The sandbox's time scale: AWS waits minutes, the sandbox divides every such wait.

`sandbox up --time-scale F` sets the factor once, at start; every part that waits on AWS's
behalf (health-check intervals, deregistration delay, canary intervals, termination waits,
hook timeouts) sleeps `scaled(seconds)`. The API still reports the configured values.
"""

from __future__ import annotations

import threading

DEFAULT_FACTOR = 30.0  # a 5-minute canary takes 10 s; a 30 s health-check interval, 1 s
_lock = threading.Lock()
_factor = DEFAULT_FACTOR


def set_factor(factor: float) -> None:
    if not factor >= 1.0 or factor != factor or factor == float("inf"):
        raise ValueError(f"time scale {factor!r} must be a finite number of at least 1")
    global _factor
    with _lock:
        _factor = factor


def factor() -> float:
    return _factor


def scaled(seconds: float, *, floor: float = 0.0) -> float:
    """`seconds` of AWS time as sandbox time, never below `floor`."""
    return max(floor, seconds / _factor)
