"""Target health as an ALB keeps it: real HTTP health checks through each target's socket.

Each registered (IP, port) of a target group in use by a listener is checked: `GET
HealthCheckPath` through the Unix socket `TargetDirectory` names for (IP, health-check port),
every `scaled(HealthCheckIntervalSeconds)`, answering within `scaled(HealthCheckTimeoutSeconds)`
(never below TIMEOUT_FLOOR, so a loaded machine is not taken for a slow target), and judged by
the Matcher's HttpCode ("200", "200,204", "200-399"). States and reasons follow ELB:

- `initial` / Elb.RegistrationInProgress until the first check ends, then
  Elb.InitialHealthChecking until HealthyThresholdCount passes in a row (`healthy`) or
  UnhealthyThresholdCount failures in a row (`unhealthy`);
- `unhealthy` with Target.ResponseCodeMismatch, Target.Timeout or Target.FailedHealthChecks
  (no connection, or no target behind the address), back to `healthy` after
  HealthyThresholdCount passes;
- `draining` / Target.DeregistrationInProgress for scaled deregistration_delay.timeout_seconds
  after deregistration: no new requests, the ones in flight finish (never cut, even past the
  delay); then the target is gone (moto answers `unused` / Target.NotRegistered);
- `unused` / Target.NotInUse while no listener rule forwards to the target group (no checks);
- `unavailable` / Target.HealthCheckDisabled when HealthCheckEnabled is false (still routed).

Not modelled: TCP/HTTPS health checks are sent as plain HTTP; instance and lambda targets;
slow start; fail-open when every target is unhealthy (the sandbox answers 503 instead).
"""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from moto.elbv2.models import FakeHealthStatus

from shipyard_sandbox import timescale
from shipyard_sandbox.runtime.forwarder import ForwarderError, connect
from shipyard_sandbox.targets import TargetDirectory

TIMEOUT_FLOOR = 1.0  # seconds: below this a busy 2-core machine fails healthy targets
INTERVAL_FLOOR = 0.1
CHECK_WORKERS = 8
USER_AGENT = "ELB-HealthChecker/2.0"

DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Target.Timeout": "Request timed out",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load "
                       "balancer",
    "Target.HealthCheckDisabled": "Health checks are disabled",
}


def code_matches(matcher: str, code: int) -> bool:
    """Whether `code` is one the Matcher's HttpCode ("200", "200,202", "200-399") accepts."""
    for part in str(matcher or "200").split(","):
        low, _, high = part.strip().partition("-")
        try:
            if int(low) <= code <= int(high or low):
                return True
        except ValueError:
            continue
    return False


@dataclass
class TargetState:
    """What the load balancer knows of one (target group, IP, port)."""

    ip: str
    port: int
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = None
    passes: int = 0
    failures: int = 0
    next_check: float = 0.0
    checking: bool = False
    drain_until: float | None = None
    in_flight: int = 0
    since: float = field(default_factory=time.monotonic)

    def set(self, state: str, reason: str | None, description: str | None = None) -> None:
        self.state, self.reason = state, reason
        self.description = description or (DESCRIPTIONS.get(reason) if reason else None)

    @property
    def routable(self) -> bool:
        return self.state in ("healthy", "unavailable") and self.drain_until is None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class HealthMonitor:
    """Target states of every target group of the backends it is given, kept by one thread."""

    def __init__(self, targets: TargetDirectory) -> None:
        self.targets = targets
        self._lock = threading.RLock()
        self._states: dict[str, dict[tuple[str, int], TargetState]] = {}
        self._pool = ThreadPoolExecutor(CHECK_WORKERS, thread_name_prefix="elb-health")

    def stop(self) -> None:
        """Cancel the checks not begun; wait for those running (each ends by its timeout)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    # --- registrations ----------------------------------------------------------------

    def sync(self, target_group: Any, in_use: bool) -> None:
        """Follow moto's registrations: new targets start `initial`, removed ones drain."""
        now = time.monotonic()
        registered = {(t["Id"], _int(t.get("Port"), _int(target_group.port, 80)))
                      for t in list(target_group.targets.values())}
        with self._lock:
            states = self._states.setdefault(target_group.arn, {})
            for key in registered:
                state = states.get(key)
                if state is None or state.drain_until is not None:
                    states[key] = state = TargetState(*key, next_check=now)
                self._follow_use(target_group, state, in_use, now)
            delay = _int(target_group.attributes.get("deregistration_delay.timeout_seconds"),
                         300)
            for key, state in list(states.items()):
                if key in registered:
                    continue
                if state.drain_until is None:
                    state.drain_until = now + timescale.scaled(delay)
                    state.set("draining", "Target.DeregistrationInProgress")
                elif now >= state.drain_until:
                    del states[key]

    def _follow_use(self, target_group: Any, state: TargetState, in_use: bool,
                    now: float) -> None:
        if not in_use:
            if state.state != "unused":
                state.set("unused", "Target.NotInUse")
            return
        if not target_group.health_check_enabled:
            if state.state != "unavailable":
                state.set("unavailable", "Target.HealthCheckDisabled")
            return
        if state.state in ("unused", "unavailable"):  # back in use: start over
            state.set("initial", "Elb.RegistrationInProgress")
            state.passes = state.failures = 0
            state.next_check = now

    def forget_all_but(self, target_group_arns: set[str]) -> None:
        """Drop the states of deleted target groups."""
        with self._lock:
            for arn in set(self._states) - target_group_arns:
                del self._states[arn]

    # --- checks -----------------------------------------------------------------------

    def run_due_checks(self, target_group: Any) -> None:
        now = time.monotonic()
        with self._lock:
            due = [s for s in self._states.get(target_group.arn, {}).values()
                   if s.drain_until is None and not s.checking and s.next_check <= now
                   and s.state not in ("unused", "unavailable")]
            for state in due:
                state.checking = True
        for state in due:
            try:
                self._pool.submit(self._check, target_group, state)
            except RuntimeError:  # the pool is shut down: the sandbox is stopping
                return

    def _check(self, target_group: Any, state: TargetState) -> None:
        interval = timescale.scaled(_int(target_group.health_check_interval_seconds, 30),
                                    floor=INTERVAL_FLOOR)
        timeout = timescale.scaled(_int(target_group.health_check_timeout_seconds, 5),
                                   floor=TIMEOUT_FLOOR)
        try:
            failure = self._probe(target_group, state, timeout)
        except Exception:  # any failure of one check (whatever its kind) is a failed check
            failure = ("Target.FailedHealthChecks", "Health checks failed")
        with self._lock:
            state.checking = False
            state.next_check = time.monotonic() + interval
            if state.drain_until is not None:
                return
            self._judge(target_group, state, failure)

    def _probe(self, target_group: Any, state: TargetState,
               timeout: float) -> tuple[str, str] | None:
        """None when the check passes, else (reason, description)."""
        port_setting = str(target_group.health_check_port or "traffic-port")
        port = state.port if port_setting == "traffic-port" else _int(port_setting, state.port)
        endpoint = self.targets.lookup(state.ip, port)
        if endpoint is None:
            return ("Target.FailedHealthChecks", "Health checks failed")
        path = target_group.health_check_path or "/"
        try:
            sock = connect(endpoint.socket_path, timeout)
        except ForwarderError:
            return ("Target.FailedHealthChecks", "Health checks failed")
        connection = http.client.HTTPConnection(state.ip, port, timeout=timeout)
        connection.sock = sock
        try:
            connection.request("GET", path, headers={
                "Host": f"{state.ip}:{port}", "User-Agent": USER_AGENT, "Connection": "close"})
            status = connection.getresponse().status
        except TimeoutError:
            return ("Target.Timeout", "Request timed out")
        except (OSError, http.client.HTTPException):
            return ("Target.FailedHealthChecks", "Health checks failed")
        finally:
            connection.close()
        matcher = (target_group.matcher or {}).get("HttpCode", "200")
        if code_matches(matcher, status):
            return None
        return ("Target.ResponseCodeMismatch", f"Health checks failed with these codes: "
                f"[{status}]")

    @staticmethod
    def _judge(target_group: Any, state: TargetState, failure: tuple[str, str] | None) -> None:
        healthy_after = _int(target_group.healthy_threshold_count, 5)
        unhealthy_after = _int(target_group.unhealthy_threshold_count, 2)
        if failure is None:
            state.passes, state.failures = state.passes + 1, 0
            if state.state != "healthy" and state.passes >= healthy_after:
                state.set("healthy", None)
            elif state.state == "initial":
                state.set("initial", "Elb.InitialHealthChecking")
            return
        state.passes, state.failures = 0, state.failures + 1
        if state.state == "unhealthy" or state.failures >= unhealthy_after:
            state.set("unhealthy", *failure)
        elif state.state == "initial":
            state.set("initial", "Elb.InitialHealthChecking")

    # --- answers ----------------------------------------------------------------------

    def state_of(self, target_group_arn: str, ip: str, port: int) -> TargetState | None:
        with self._lock:
            return self._states.get(target_group_arn, {}).get((ip, int(port)))

    def routable(self, target_group_arn: str) -> list[TargetState]:
        """The healthy targets; when none is, those with no verdict yet (in their first
        checks, or `unused` until the monitor sees a listener use their group): ALB fails
        open to a group's targets when none is healthy, and a group a listener has just begun
        to use (CodeDeploy's replacement, say) has none healthy yet. A group whose targets all
        failed their checks gets no request (503), where ALB would fail open to them too."""
        with self._lock:
            states = [s for s in self._states.get(target_group_arn, {}).values()
                      if s.drain_until is None]
            healthy = [s for s in states if s.routable]
            return healthy or [s for s in states if s.state in ("initial", "unused")]

    def draining(self, target_group_arn: str) -> list[dict[str, Any]]:
        with self._lock:
            return [{"Id": s.ip, "Port": s.port}
                    for s in self._states.get(target_group_arn, {}).values()
                    if s.drain_until is not None]

    def counts(self, target_group_arn: str) -> tuple[int, int]:
        """(healthy, unhealthy) targets, as HealthyHostCount and UnHealthyHostCount count."""
        with self._lock:
            states = [s for s in self._states.get(target_group_arn, {}).values()
                      if s.drain_until is None]
        return (sum(s.state == "healthy" for s in states),
                sum(s.state == "unhealthy" for s in states))

    def health_status(self, target_group: Any, target: dict[str, Any]) -> FakeHealthStatus | None:
        """DescribeTargetHealth's entry for `target`, or None for moto to answer."""
        port = _int(target.get("Port"), _int(target_group.port, 80))
        state = self.state_of(target_group.arn, target["Id"], port)
        if state is None:
            return None
        return FakeHealthStatus(state.ip, state.port, target_group.health_check_port,
                                state.state, state.reason, state.description)
