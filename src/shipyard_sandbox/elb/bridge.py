"""moto's ELBv2 made to balance real traffic: listeners served, targets checked, drained.

`install(bridge)` patches moto's ELBv2 backend in-process (as `ecr_bridge` does for ECR):
CreateListener opens a `ListenerProxy` on a free 127.0.0.1 port, DeleteListener and
DeleteLoadBalancer close it, Register/DeregisterTargets start health checking or draining at
once, DescribeTargetHealth answers from the `HealthMonitor`. One thread (`_run`) follows
whatever changed by other paths (CloudFormation, a deleted target group) every TICK seconds
and runs the due health checks.

Where each listener is served is written to STATE_DIR/listeners.json (`LISTENERS_FILE`), which
`shipyard sandbox env` turns into SHIPYARD_LISTENER_<LOAD BALANCER>_<PORT>=http://127.0.0.1:N.

Everything is patched onto moto's classes, so this module must only be imported by the sandbox
process, never by product code.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from moto.elbv2 import models as elbv2_models
from moto.elbv2.exceptions import TargetGroupNotFoundError

from shipyard_sandbox.elb import metrics
from shipyard_sandbox.elb.health import HealthMonitor, TargetState
from shipyard_sandbox.elb.listeners import ListenerProxy, SmoothWeights
from shipyard_sandbox.elb.metrics import MetricsRecorder
from shipyard_sandbox.elb.rules import target_groups_in_use
from shipyard_sandbox.targets import Endpoint, TargetDirectory

LISTENERS_FILE = "listeners.json"
TICK = 0.05  # seconds between two rounds of the monitor thread


def listener_variable(load_balancer_name: str, port: Any) -> str:
    """SHIPYARD_LISTENER_<NAME>_<PORT>: the load balancer's name upper-cased, other than
    letters and digits as `_`."""
    return f"SHIPYARD_LISTENER_{re.sub(r'[^A-Z0-9]', '_', load_balancer_name.upper())}_{port}"


class ElbBridge:
    """The sandbox's load balancers of one account and region, really serving."""

    def __init__(self, *, account_id: str, region: str, targets: TargetDirectory,
                 state_dir: Path | None = None) -> None:
        self.account_id = account_id
        self.region = region
        self.targets = targets
        self.state_dir = state_dir
        self.health = HealthMonitor(targets)
        self.metrics = MetricsRecorder(account_id, region, self._host_counts)
        self.weights = SmoothWeights()
        self.proxies: dict[str, ListenerProxy] = {}
        self._lock = threading.RLock()
        self._turn: dict[str, int] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def backend(self) -> Any:
        return elbv2_models.elbv2_backends[self.account_id][self.region]

    # --- life -------------------------------------------------------------------------

    def start(self) -> None:
        install(self)
        with self._lock:
            self._write_listeners()  # a crashed sandbox's file must not outlive it
        self._follow()
        self.metrics.start()
        self._thread = threading.Thread(target=self._run, name="elb-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        uninstall(self)
        if self._thread:
            self._thread.join(10)
        with self._lock:
            proxies, self.proxies = list(self.proxies.values()), {}
        stoppers = [threading.Thread(target=proxy.stop) for proxy in proxies]
        for stopper in stoppers:  # at once: each waits for its serving loop's next poll
            stopper.start()
        for stopper in stoppers:
            stopper.join(10)
        self.health.stop()
        self.metrics.stop()
        if self.state_dir:
            (self.state_dir / LISTENERS_FILE).unlink(missing_ok=True)

    def _run(self) -> None:
        last_error = ""
        while not self._stopping.wait(TICK):  # ends with the sandbox
            try:
                self._follow()
            except RuntimeError:  # moto changed a dict while it was read: next round
                continue
            except Exception:  # one bad round must not end health checking for good
                error = traceback.format_exc()
                if error != last_error:  # into the sandbox's log, once per kind
                    print(f"load balancer monitor: {error}", file=sys.stderr, flush=True)
                    last_error = error

    def _follow(self) -> None:
        backend = self.backend
        in_use = target_groups_in_use(backend)
        for group in list(backend.target_groups.values()):
            self.health.sync(group, group.arn in in_use)
            self.health.run_due_checks(group)
        self.health.forget_all_but(set(backend.target_groups))
        listeners = {listener.arn: listener
                     for balancer in list(backend.load_balancers.values())
                     for listener in list(balancer.listeners.values())}
        for arn, listener in listeners.items():
            if arn not in self.proxies:
                self.open_listener(backend, listener)
        for arn in set(self.proxies) - set(listeners):
            self.close_listener(arn)

    # --- listeners --------------------------------------------------------------------

    def open_listener(self, backend: Any, listener: Any) -> None:
        with self._lock:
            if listener.arn in self.proxies or self._stopping.is_set():
                return
            proxy = ListenerProxy(self, backend, listener)
            proxy.start()
            self.proxies[listener.arn] = proxy
            self._write_listeners()

    def close_listener(self, arn: str) -> None:
        with self._lock:
            proxy = self.proxies.pop(arn, None)
            if proxy is None:
                return
            self._write_listeners()
        proxy.stop()

    def listener_urls(self) -> dict[str, str]:
        """Listener ARN -> the local URL that serves it."""
        with self._lock:
            return {arn: proxy.url for arn, proxy in self.proxies.items()}

    def dns_listeners(self) -> dict[tuple[str, int], str]:
        """(load balancer DNS name, listener port) -> the local URL that serves it."""
        with self._lock:
            proxies = list(self.proxies.values())
        found = {}
        for proxy in proxies:
            listener = proxy.listener()
            balancer = self.backend.load_balancers.get(proxy.load_balancer_arn)
            if listener is not None and balancer is not None:
                found[(balancer.dns_name.lower(), int(listener.port))] = proxy.url
        return found

    def _write_listeners(self) -> None:
        if not self.state_dir:
            return
        entries = []
        for arn, proxy in self.proxies.items():
            listener = proxy.listener()
            balancer = self.backend.load_balancers.get(proxy.load_balancer_arn)
            if listener is None or balancer is None:
                continue
            entries.append({"listener_arn": arn, "load_balancer": balancer.name,
                            "port": int(listener.port), "protocol": listener.protocol,
                            "url": proxy.url,
                            "variable": listener_variable(balancer.name, listener.port)})
        self.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.state_dir / f".{LISTENERS_FILE}.tmp"
        temporary.write_text(json.dumps({"listeners": entries}, indent=2))
        temporary.replace(self.state_dir / LISTENERS_FILE)

    # --- targets ----------------------------------------------------------------------

    def sync_group(self, backend: Any, target_group_arn: str) -> None:
        group = backend.target_groups.get(target_group_arn)
        if group is not None:
            self.health.sync(group, target_group_arn in target_groups_in_use(backend))

    def take_target(self, target_group_arn: str) -> tuple[TargetState, Endpoint] | None:
        """The next healthy target of the group in turn, counted in flight until released."""
        with self.health._lock:
            candidates = sorted(self.health.routable(target_group_arn),
                                key=lambda s: (s.ip, s.port))
            turn = self._turn.get(target_group_arn, 0)
            for offset in range(len(candidates)):
                state = candidates[(turn + offset) % len(candidates)]
                endpoint = self.targets.lookup(state.ip, state.port)
                if endpoint is not None:
                    self._turn[target_group_arn] = turn + offset + 1
                    state.in_flight += 1
                    return state, endpoint
        return None

    def release_target(self, state: TargetState) -> None:
        with self.health._lock:
            state.in_flight -= 1

    def target_health(self, target_group_arn: str, ip: str, port: int) -> str | None:
        """The target's state as DescribeTargetHealth names it, None if not registered."""
        state = self.health.state_of(target_group_arn, ip, port)
        return state.state if state else None

    def _host_counts(self) -> list[tuple[str, str, int, int]]:
        counts = []
        backend = self.backend
        for group_arn, balancer_arns in target_groups_in_use(backend).items():
            healthy, unhealthy = self.health.counts(group_arn)
            counts += [(arn, group_arn, healthy, unhealthy) for arn in sorted(balancer_arns)]
        return counts


_active: ElbBridge | None = None
_patched = False


def active() -> ElbBridge | None:
    return _active


def uninstall(bridge: ElbBridge) -> None:
    global _active
    if _active is bridge:
        _active = None


def install(bridge: ElbBridge) -> None:
    """Make moto's ELBv2 backends answer through `bridge` (patched once per process)."""
    global _active, _patched
    _active = bridge
    if _patched:
        return
    _patched = True
    metrics.install()
    backend_cls = elbv2_models.ELBv2Backend
    original = {name: getattr(backend_cls, name) for name in (
        "create_listener", "delete_listener", "delete_load_balancer", "register_targets",
        "deregister_targets", "describe_target_health")}

    def create_listener(self, *args, **kwargs):
        listener = original["create_listener"](self, *args, **kwargs)
        if _active is not None:
            _active.open_listener(self, listener)
        return listener

    def delete_listener(self, listener_arn):
        listener = original["delete_listener"](self, listener_arn)
        if _active is not None:
            _active.close_listener(listener_arn)
        return listener

    def delete_load_balancer(self, arn):
        balancer = self.load_balancers.get(arn)
        original["delete_load_balancer"](self, arn)
        if _active is not None and balancer is not None:
            for listener_arn in list(balancer.listeners):
                _active.close_listener(listener_arn)

    def register_targets(self, target_group_arn, instances):
        original["register_targets"](self, target_group_arn, instances)
        if _active is not None:
            _active.sync_group(self, target_group_arn)

    def deregister_targets(self, target_group_arn, instances):
        original["deregister_targets"](self, target_group_arn, instances)
        if _active is not None:
            _active.sync_group(self, target_group_arn)

    def describe_target_health(self, target_group_arn, targets):
        bridge = _active
        if bridge is None:
            return original["describe_target_health"](self, target_group_arn, targets)
        group = self.target_groups.get(target_group_arn)
        if group is None:
            raise TargetGroupNotFoundError()
        bridge.sync_group(self, target_group_arn)
        if not targets:
            targets = list(group.targets.values()) + bridge.health.draining(target_group_arn)
        answers = []
        for target in targets:
            status = bridge.health.health_status(group, target)
            answers.append(status or group.health_for(target, self.ec2_backend))
        return answers

    for name, function in (("create_listener", create_listener),
                           ("delete_listener", delete_listener),
                           ("delete_load_balancer", delete_load_balancer),
                           ("register_targets", register_targets),
                           ("deregister_targets", deregister_targets),
                           ("describe_target_health", describe_target_health)):
        setattr(backend_cls, name, function)
