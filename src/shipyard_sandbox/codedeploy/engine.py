"""One ECS blue/green deployment, run step by step as CodeDeploy runs it.

The order (CodeDeploy's lifecycle for the ECS compute platform): BeforeInstall (hook),
Install (the replacement task set, on the target group production does not use, until its
tasks are healthy), AfterInstall (hook), AllowTestTraffic (the test listener to the
replacement), AfterAllowTestTraffic (hook), BeforeAllowTraffic (hook), AllowTraffic (the
production listener shifted by the deployment config, after the ready wait when the group
asks for one: the deployment is `Ready` until ContinueDeployment), AfterAllowTraffic
(hook); then the replacement becomes primary and the original task set is drained and
deleted after the termination wait.

A hook is a Lambda invoked with `{"DeploymentId", "LifecycleEventHookExecutionId"}`; the
event waits until `PutLifecycleEventHookExecutionStatus` answers for it (or the hook timeout,
an hour in AWS time, passes). A failure (a hook that reports Failed or times out, a task set
that does not become healthy, an alarm of the group, `StopDeployment`) rolls back when the
group or the call asks for it: production and test traffic return to the original task set
and the replacement is deleted.

What the deployment acts on comes through `Platform`: the sandbox's ECS, load balancer,
Lambda and CloudWatch behind one small interface, so that this module is the state machine
alone, and its tests run it against a fake.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shipyard_sandbox import timescale
from shipyard_sandbox.codedeploy.configs import TrafficRouting

HOOK_EVENTS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic",
               "AfterAllowTraffic")
LIFECYCLE = ("BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic",
             "AfterAllowTestTraffic", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
HOOK_TIMEOUT = 3600.0  # AWS time: a hook has an hour to report
INSTALL_TIMEOUT = 3600.0  # AWS time: the replacement task set's tasks to become healthy
POLL = 5.0  # AWS time between looks at the task set and the alarms


class Platform(Protocol):
    """What a deployment acts on. Weights are percentages by target group ARN."""

    def create_task_set(self, spec: DeploymentSpec) -> str: ...
    def task_set_state(self, task_set: str) -> str:
        """"PENDING", "HEALTHY" or "FAILED: <reason>"."""
    def route(self, listener_arn: str, weights: dict[str, int]) -> None: ...
    def promote(self, spec: DeploymentSpec, task_set: str) -> None: ...
    def delete_task_set(self, spec: DeploymentSpec, task_set: str) -> None: ...
    def invoke_hook(self, function: str, payload: dict[str, str]) -> None: ...
    def alarms_in_alarm(self, names: list[str]) -> list[str]: ...


@dataclass
class DeploymentSpec:
    """What to deploy, and how: the AppSpec's resource and the deployment group's settings."""

    cluster: str
    service: str
    task_definition: str
    container_name: str
    container_port: int
    original_task_set: str
    original_target_group: str
    replacement_target_group: str
    production_listener: str
    test_listener: str | None
    routing: TrafficRouting
    hooks: dict[str, str] = field(default_factory=dict)  # lifecycle event -> function
    ready_wait_minutes: int | None = None  # STOP_DEPLOYMENT: wait this long for Continue
    termination_wait_minutes: int = 0
    rollback_on_failure: bool = False
    rollback_on_alarm: bool = False
    alarms: list[str] = field(default_factory=list)


class HookError(Exception):
    """The platform could not do what a step asked (invoke a hook, create a task set)."""


class _Stopped(Exception):
    """The deployment ends early; `code` and `message` become its errorInformation."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"  # Pending, InProgress, Succeeded, Failed, Skipped
    start: datetime | None = None
    end: datetime | None = None
    hook_execution_id: str | None = None
    diagnostics: dict[str, str] | None = None

    def to_api(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"lifecycleEventName": self.name, "status": self.status}
        if self.start:
            answer["startTime"] = self.start
        if self.end:
            answer["endTime"] = self.end
        if self.diagnostics:
            answer["diagnostics"] = self.diagnostics
        return answer


class DeploymentRun:
    """A deployment in progress; `start()` runs it on a thread of its own."""

    def __init__(self, deployment_id: str, spec: DeploymentSpec, platform: Platform,
                 on_change: Callable[[DeploymentRun], None] = lambda run: None) -> None:
        self.id, self.spec, self.platform, self._on_change = deployment_id, spec, platform, \
            on_change
        self.status = "Created"
        self.events = [LifecycleEvent(name) for name in LIFECYCLE]
        self.error: dict[str, str] | None = None
        self.messages: list[str] = []
        self.replacement: str | None = None
        self.weights = {spec.original_target_group: 100, spec.replacement_target_group: 0}
        self.rolled_back = False
        self._lock = threading.Condition()
        self._hook_answers: dict[str, str] = {}
        self._stop: tuple[str, bool] | None = None  # (message, roll back)
        self._continue: set[str] = set()
        self._thread: threading.Thread | None = None

    # --- the API's side ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"codedeploy {self.id}",
                                        daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread:
            self._thread.join(timeout)

    def put_hook_status(self, execution_id: str, status: str) -> bool:
        """PutLifecycleEventHookExecutionStatus; False when no event waits on that id."""
        with self._lock:
            waiting = any(e.hook_execution_id == execution_id and e.status == "InProgress"
                          for e in self.events)
            if waiting:
                self._hook_answers[execution_id] = status
                self._lock.notify_all()
            return waiting

    def stop(self, roll_back: bool) -> None:
        """StopDeployment (autoRollbackEnabled: roll back)."""
        with self._lock:
            self._stop = ("The deployment was stopped by the user.", roll_back)
            self._lock.notify_all()

    def continue_deployment(self, wait_type: str) -> None:
        """ContinueDeployment: READY_WAIT or TERMINATION_WAIT."""
        with self._lock:
            self._continue.add(wait_type)
            self._lock.notify_all()

    # --- the run ----------------------------------------------------------------------------

    def _run(self) -> None:
        self._set_status("InProgress")
        try:
            for event in self.events:
                self._step(event)
        except _Stopped as stopped:
            self._fail(stopped)
            return
        self._set_status("InProgress", "Waiting to terminate the original task set.")
        self._wait_for("TERMINATION_WAIT", self.spec.termination_wait_minutes * 60.0)
        self.platform.delete_task_set(self.spec, self.spec.original_task_set)
        self._set_status("Succeeded")

    def _step(self, event: LifecycleEvent) -> None:
        self._begin(event)
        if event.name in HOOK_EVENTS:
            function = self.spec.hooks.get(event.name)
            if function is None:
                self._end(event, "Skipped")
                return
            self._run_hook(event, function)
        elif event.name == "Install":
            self._install()
        elif event.name == "AllowTestTraffic":
            if self.spec.test_listener:
                self.platform.route(self.spec.test_listener,
                                    {self.spec.replacement_target_group: 100})
        elif event.name == "AllowTraffic":
            self._allow_traffic()
        self._end(event, "Succeeded")

    def _install(self) -> None:
        try:
            self.replacement = self.platform.create_task_set(self.spec)
        except HookError as exc:
            raise _Stopped("ECS_UPDATE_ERROR", str(exc)) from exc
        deadline = time.monotonic() + timescale.scaled(INSTALL_TIMEOUT, floor=1.0)
        while True:
            state = self.platform.task_set_state(self.replacement)
            if state == "HEALTHY":
                return
            if state.startswith("FAILED"):
                raise _Stopped("ECS_UPDATE_ERROR", f"The ECS task set failed to become "
                                                   f"healthy: {state.removeprefix('FAILED: ')}")
            if time.monotonic() > deadline:
                raise _Stopped("TIMEOUT", "The replacement task set did not become healthy in "
                                          "time.")
            self._pause(POLL)

    def _allow_traffic(self) -> None:
        spec = self.spec
        if spec.ready_wait_minutes is not None:
            # CodeDeploy's deployment (and its ECS target) is Ready while it waits.
            self._set_status("Ready", "Waiting for ContinueDeployment to reroute production "
                                      "traffic.")
            if not self._wait_for("READY_WAIT", spec.ready_wait_minutes * 60.0):
                raise _Stopped("TIMEOUT", "The deployment timed out while waiting for "
                                          "ContinueDeployment to reroute traffic.")
            self._set_status("InProgress")
        for wait, share in spec.routing.shifts():
            self._pause(wait)
            self.weights = {spec.original_target_group: 100 - share,
                            spec.replacement_target_group: share}
            self.platform.route(spec.production_listener, dict(self.weights))
            self._changed()
        self.platform.promote(spec, self.replacement or "")

    def _run_hook(self, event: LifecycleEvent, function: str) -> None:
        execution_id = str(uuid.uuid4())
        with self._lock:
            event.hook_execution_id = execution_id
        try:
            self.platform.invoke_hook(function, {"DeploymentId": self.id,
                                                 "LifecycleEventHookExecutionId": execution_id})
        except HookError as exc:
            event.diagnostics = {"errorCode": "ScriptMissing", "message": str(exc)}
            raise _Stopped("HOOK_EXECUTION_FAILURE", f"The {event.name} hook failed: {exc}.") \
                from exc
        deadline = time.monotonic() + timescale.scaled(HOOK_TIMEOUT, floor=1.0)
        with self._lock:
            while execution_id not in self._hook_answers:
                self._check_stop()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Stopped("HOOK_EXECUTION_FAILURE",
                                   f"The {event.name} hook ({function}) did not report a "
                                   "status before its timeout.")
                self._lock.wait(min(left, timescale.scaled(POLL, floor=0.05)))
            answer = self._hook_answers[execution_id]
        if answer != "Succeeded":
            event.diagnostics = {"errorCode": "ScriptFailed",
                                 "message": f"The {event.name} hook {function} reported "
                                            f"{answer}."}
            raise _Stopped("HOOK_EXECUTION_FAILURE",
                           f"The {event.name} hook {function} reported {answer}.")

    # --- waiting, stopping, failing ---------------------------------------------------------

    def _pause(self, aws_seconds: float) -> None:
        """Wait `aws_seconds` (scaled), ended early by a stop, alarms checked as it passes."""
        deadline = time.monotonic() + timescale.scaled(aws_seconds)
        with self._lock:
            while True:
                self._check_stop()
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._lock.wait(min(left, timescale.scaled(POLL, floor=0.05)))

    def _wait_for(self, wait_type: str, aws_seconds: float) -> bool:
        """Wait until ContinueDeployment(wait_type) or `aws_seconds` pass; True if continued.
        The termination wait cannot be stopped: the deployment has succeeded by then."""
        deadline = time.monotonic() + timescale.scaled(aws_seconds)
        with self._lock:
            while wait_type not in self._continue:
                if wait_type != "TERMINATION_WAIT":
                    self._check_stop()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, timescale.scaled(POLL, floor=0.05)))
            return True

    def _check_stop(self) -> None:
        """Raise _Stopped for a StopDeployment or an alarm (called holding the lock)."""
        if self._stop is not None:
            raise _Stopped("MANUAL_STOP", self._stop[0])
        if self.spec.alarms:
            firing = self.platform.alarms_in_alarm(self.spec.alarms)
            if firing:
                raise _Stopped("ALARM_ACTIVE", f"One or more alarms have been activated "
                                               f"according to the Amazon CloudWatch metrics "
                                               f"you selected: {', '.join(firing)}.")

    def _fail(self, stopped: _Stopped) -> None:
        spec = self.spec
        for event in self.events:
            if event.status == "InProgress":
                self._end(event, "Failed")
            elif event.status == "Pending":
                self._end(event, "Skipped")
        self.error = {"code": stopped.code, "message": stopped.message}
        manual, alarm = stopped.code == "MANUAL_STOP", stopped.code == "ALARM_ACTIVE"
        roll_back = (self._stop[1] if manual and self._stop else
                     spec.rollback_on_alarm if alarm else spec.rollback_on_failure)
        if roll_back:
            self.platform.route(spec.production_listener, {spec.original_target_group: 100})
            if spec.test_listener:
                self.platform.route(spec.test_listener, {spec.original_target_group: 100})
            self.weights = {spec.original_target_group: 100, spec.replacement_target_group: 0}
            if self.replacement:
                self.platform.delete_task_set(spec, self.replacement)
            self.rolled_back = True
            self.messages.append("Rolled back: production traffic is on the original task "
                                 "set and the replacement task set was deleted.")
        # A stop, by StopDeployment or by an alarm, ends as Stopped; anything else as Failed.
        self._set_status("Stopped" if manual or alarm else "Failed")

    # --- bookkeeping ------------------------------------------------------------------------

    def _begin(self, event: LifecycleEvent) -> None:
        with self._lock:
            event.status, event.start = "InProgress", _now()
        self._changed()

    def _end(self, event: LifecycleEvent, status: str) -> None:
        with self._lock:
            event.status, event.end = status, _now()
        self._changed()

    def _set_status(self, status: str, message: str | None = None) -> None:
        with self._lock:
            self.status = status
            if message:
                self.messages.append(message)
        self._changed()

    def _changed(self) -> None:
        self._on_change(self)


def _now() -> datetime:
    return datetime.now(UTC)
