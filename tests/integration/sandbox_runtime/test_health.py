"""Health checks run inside a running task and report ECS's healthStatus."""

from __future__ import annotations

import threading

import pytest

from shipyard_sandbox.runtime.healthcheck import (
    HEALTHY,
    UNHEALTHY,
    UNKNOWN,
    HealthMonitor,
    check_argv,
)

pytestmark = pytest.mark.integration

SCALE = 20  # intervals of 2 s become 0.1 s
BOUND = 15.0  # seconds a status is given to settle (bounds a hang, not a timing)
SERVE = "echo serving; exec httpd -f -p 127.0.0.1:8080 -h /www"


@pytest.fixture
def monitored():
    """monitored(container, healthCheck) -> (started monitor, its status changes, an event set
    at the first change); each change's check count is kept in `monitor.checks_at_change`
    (later checks go on). Every monitor is stopped after the test."""
    monitors: list[HealthMonitor] = []

    def start(container, health_check: dict
              ) -> tuple[HealthMonitor, list[str], threading.Event]:
        changes: list[str] = []
        changed = threading.Event()

        def on_change(status: str) -> None:
            monitor.checks_at_change.append(monitor.checks)
            changes.append(status)
            changed.set()

        monitor = HealthMonitor(container, health_check, time_scale=SCALE, on_change=on_change)
        monitor.checks_at_change = []
        monitors.append(monitor)
        return monitor.start(), changes, changed

    yield start
    for monitor in monitors:
        monitor.stop()


def test_a_check_that_passes_inside_the_task_makes_it_healthy(run_container, monitored) -> None:
    running = run_container({"command": [SERVE]})
    # wget reaches httpd on the task's own loopback: the check runs in its network namespace,
    # as the container's user, in its working directory, with its environment.
    check = ("wget -q -O- http://127.0.0.1:8080/version.txt && id -un && pwd && "
             "echo v=$APP_VERSION")
    monitor, changes, changed = monitored(running.container, {
        "command": ["CMD-SHELL", check], "interval": 2, "timeout": 5, "retries": 3})
    assert monitor.status == UNKNOWN
    assert changed.wait(BOUND)
    assert changes == [HEALTHY]
    assert monitor.last_output.split() == ["1.4.2", "app", "/home/app", "v=1.4.2"]


def test_a_check_that_never_passes_makes_it_unhealthy_after_retries(run_container,
                                                                   monitored) -> None:
    running = run_container({"command": [SERVE]})
    monitor, changes, changed = monitored(running.container, {
        "command": ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/missing"],
        "interval": 2, "timeout": 5, "retries": 3})
    assert changed.wait(BOUND)
    assert changes == [UNHEALTHY]
    assert monitor.checks_at_change == [3]  # three failures in a row, none before
    assert "404" in monitor.last_output


def test_a_check_past_its_timeout_fails(run_container, monitored) -> None:
    running = run_container({"command": [SERVE]})
    monitor, changes, changed = monitored(running.container, {
        "command": ["CMD", "sleep", "60"], "interval": 2, "timeout": 1, "retries": 1})
    assert changed.wait(BOUND)
    assert changes == [UNHEALTHY]
    assert "timeout" in monitor.last_output


def test_failures_in_the_start_period_do_not_count(run_container, monitored) -> None:
    running = run_container({"command": [SERVE]})
    monitor, changes, _ = monitored(running.container, {
        "command": ["CMD", "false"], "interval": 1, "retries": 1, "startPeriod": 3600})
    wait_until(lambda: monitor.checks >= 5)
    assert monitor.status == UNKNOWN and changes == []


def test_the_start_period_ends_at_the_first_success(run_container, monitored) -> None:
    running = run_container({"command": [SERVE]})
    # Passes once, then fails: as a task that came up healthy and then broke.
    once = "if [ -f /tmp/seen ]; then exit 1; fi; touch /tmp/seen"
    monitor, changes, _ = monitored(running.container, {
        "command": ["CMD-SHELL", once], "interval": 1, "retries": 2, "startPeriod": 3600})
    wait_until(lambda: len(changes) == 2)
    assert changes == [HEALTHY, UNHEALTHY]
    assert monitor.checks_at_change == [1, 3]


def test_check_commands_take_ecs_forms() -> None:
    assert check_argv(["CMD-SHELL", "curl -f localhost || exit 1"]) == [
        "/bin/sh", "-c", "curl -f localhost || exit 1"]
    assert check_argv(["CMD", "wget", "-q", "x"]) == ["wget", "-q", "x"]
    for bad in (["NONE"], ["CMD"], ["curl", "x"]):
        with pytest.raises(ValueError, match="CMD or CMD-SHELL"):
            check_argv(bad)


def wait_until(condition) -> None:
    import time

    deadline = time.monotonic() + BOUND
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()
