"""ECS's service scheduler for services with the `ECS` deployment controller.

One thread reconciles every service each TICK seconds, as ECS's scheduler does:
- CreateService, and UpdateService with a new task definition or `forceNewDeployment`, make a
  new PRIMARY deployment (`ecs-svc/...`); older ones become ACTIVE and are drained;
- a rolling update keeps at most `maximumPercent` of the desired count running and at least
  `minimumHealthyPercent` healthy; a task counts as healthy when it is RUNNING, its essential
  health checks (if any) pass, and every target group that has an opinion
  (`target_health(target_group_arn, ip, port)`, set by the load balancer's part; None means
  no opinion) reports it `healthy`;
- a service task whose container health check fails is stopped ("Task failed container
  health checks"), one its target group finds unhealthy after the health-check grace period
  too ("Task failed ELB health checks in (target-group ...)"); failed launches are retried
  with an exponential back-off (ECS throttles a service whose tasks keep failing);
- the deployment circuit breaker counts a deployment's failed tasks; at ECS's threshold (half
  the desired count, at least 3, at most 200) the deployment is FAILED and, with `rollback`,
  a new deployment of the last COMPLETED one's task definition replaces it;
- a new task of a service with `loadBalancers` is registered with each target group (moto's
  ELBv2 and the sandbox's `TargetDirectory`, which maps its (ip, port) to the forwarder's
  socket); an old task is deregistered, drained for the target group's deregistration delay
  (scaled), then stopped;
- `events[]` carry ECS's wording, newest first, at most MAX_EVENTS.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moto.elbv2.models import elbv2_backends

from shipyard_sandbox import timescale
from shipyard_sandbox.ecs import records
from shipyard_sandbox.ecs.tasksets import TaskSetScheduling
from shipyard_sandbox.runtime.healthcheck import HEALTHY, UNHEALTHY
from shipyard_sandbox.targets import Endpoint

if TYPE_CHECKING:
    from shipyard_sandbox.ecs.bridge import EcsSandbox
    from shipyard_sandbox.ecs.tasks import TaskRun

TICK = 0.1
MAX_TICKS = 10**10  # a bound no sandbox reaches: thirty years of ticks
MAX_EVENTS = 100
INACTIVE_KEPT = 300.0  # AWS seconds a drained deployment stays listed as INACTIVE
MAX_INACTIVE = 5
MIN_UPTIME = 30.0  # AWS seconds a task without health check runs before it counts healthy
# Real seconds the health-check grace period lasts at least, whatever the time scale: a real
# process (a Python service) takes a second or more to listen on a busy machine, and a grace
# period scaled below that failed healthy tasks before they had started.
GRACE_FLOOR = 5.0
BACKOFF_BASE, BACKOFF_MAX = 10.0, 900.0  # AWS seconds, scaled
FAILURE_CODES = ("TaskFailedToStart", "EssentialContainerExited")
TargetHealth = Callable[[str, str, int], "str | None"]


class Deployment:
    """A deployment of the ECS controller, or a task set (`task_set`, the moto record, with
    its own load balancers) of a CODE_DEPLOY or EXTERNAL service."""

    def __init__(self, task_definition: str, reason: str | None = None,
                 task_set: Any = None) -> None:
        self.task_set = task_set
        self.id = f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"
        self.task_definition = task_definition
        self.status = "PRIMARY"
        self.rollout_state = "IN_PROGRESS"
        self.rollout_reason = reason or f"ECS deployment {self.id} in progress."
        self.created_at = self.updated_at = records.now()
        self.runs: list[TaskRun] = []
        self.failed_tasks = 0
        self.consecutive_failures = 0
        self.next_launch = 0.0
        self.inactive_at = 0.0
        self.rollback = False  # made by the circuit breaker


class ServiceState:
    def __init__(self, service: Any) -> None:
        self.service = service
        self.deployments: list[Deployment] = []
        self.events: list[dict[str, Any]] = []
        self.draining: dict[str, tuple[float, TaskRun]] = {}
        self.retired: set[str] = set()  # stopped by the scheduler, not failed by themselves
        self.registered: dict[str, list[tuple[str, str, int]]] = {}
        self.last_completed: Deployment | None = None
        self.steady = False
        self.started_at = time.monotonic()
        self.task_sets = False  # True: the deployments are the service's task sets

    @property
    def name(self) -> str:
        return self.service.name

    def event(self, message: str) -> None:
        entry = {"id": str(uuid.uuid4()), "createdAt": records.now(),
                 "message": f"(service {self.name}) {message}"}
        self.events = [entry, *self.events][:MAX_EVENTS]


class Scheduler(TaskSetScheduling):
    def __init__(self, sandbox: EcsSandbox) -> None:
        self.sandbox = sandbox
        self.target_health: TargetHealth | None = None  # set by the load balancer's part
        self.states: dict[str, ServiceState] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="ecs-scheduler")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)

    # --- from API calls ------------------------------------------------------------------

    def changed(self, service: Any, *, new_deployment: bool) -> None:
        """A service was created, updated or deleted."""
        if (service.deployment_controller or {}).get("type", "ECS") != "ECS":
            self.task_sets_changed(service)  # CodeDeploy or the user moves their task sets
            return
        with self._lock:
            key = service.arn
            state = self.states.get(key)
            if state is None:
                state = self.states[key] = ServiceState(service)
            if service.status != "ACTIVE":
                with records.LOCK:
                    service.status = "DRAINING"
            elif new_deployment or not state.deployments:
                # UpdateService may name family:revision; deployments show the ARN.
                arn = self.sandbox.backend.describe_task_definition(service.task_definition).arn
                records.update(service, task_definition=arn)
                self._deploy(state, arn)
            state.steady = False
            self._publish(state)

    def _deploy(self, state: ServiceState, task_definition: str,
                reason: str | None = None) -> Deployment:
        deployment = Deployment(task_definition, reason)
        for old in state.deployments:
            old.status = "ACTIVE"
        state.deployments.insert(0, deployment)
        return deployment

    # --- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        for _ in range(MAX_TICKS):
            if self._stopping.wait(TICK):
                return
            with self._lock:
                for key, state in list(self.states.items()):
                    try:
                        if self._reconcile(state):
                            del self.states[key]
                            self._publish(state)
                            records.update(state.service, status="INACTIVE")
                        else:
                            self._publish(state)
                    except Exception as error:  # one service's trouble must not stop all
                        state.event(f"sandbox scheduler error: {type(error).__name__}: "
                                    f"{error}")
                        self._publish(state)

    def _reconcile(self, state: ServiceState) -> bool:
        """One pass over a service; True once a deleted service has nothing left."""
        if state.task_sets:
            return self._reconcile_task_sets(state)
        service = state.service
        deleting = service.status != "ACTIVE"
        desired = 0 if deleting else int(service.desired_count or 0)
        self._collect_stopped(state)
        self._enforce_health(state)
        self._finish_drains(state)
        primary = state.deployments[0] if state.deployments else None
        if primary is None:
            return deleting and not state.draining
        self._circuit_breaker(state, primary, desired)
        primary = state.deployments[0]
        config = service.deployment_configuration or {}
        max_total = math.floor(desired * int(config.get("maximumPercent", 200)) / 100)
        min_healthy = math.ceil(desired * int(config.get("minimumHealthyPercent", 100)) / 100)
        new = self._live(primary)
        old = [run for d in state.deployments[1:] for run in self._live(d)]
        for run in new + old:
            self._register(state, run)
        room = min(desired - len(new), max(max_total, 1 if desired else 0) - len(new) - len(old))
        if room > 0 and primary.rollout_state != "FAILED" \
                and time.monotonic() >= primary.next_launch:
            self._launch(state, primary, room)
        if len(new) > desired:  # scale in: the least useful first
            for run in sorted(new, key=self._usefulness)[:len(new) - desired]:
                self._retire(state, run, "Scaling activity initiated by (deployment "
                             f"{primary.id})")
        healthy = sum(1 for run in new + old if self._healthy(state, run))
        for run in sorted(old, key=self._usefulness):
            if not self._healthy(state, run):
                self._retire(state, run, f"Scaling activity initiated by (deployment "
                             f"{primary.id})")
            elif healthy - 1 >= min_healthy:
                healthy -= 1
                self._retire(state, run, f"Scaling activity initiated by (deployment "
                             f"{primary.id})")
        self._complete(state, primary, desired)
        self._retire_deployments(state, primary)
        return deleting and not any(d.runs for d in state.deployments) and not state.draining

    def _retire_deployments(self, state: ServiceState, primary: Deployment) -> None:
        """A drained deployment turns INACTIVE and is listed a while longer (INACTIVE_KEPT,
        AWS time), as ECS lists one briefly before dropping it."""
        kept = []
        for deployment in state.deployments:
            if deployment is not primary and not deployment.runs:
                if deployment.status != "INACTIVE":
                    deployment.status, deployment.inactive_at = "INACTIVE", time.monotonic()
                    deployment.updated_at = records.now()
                if time.monotonic() - deployment.inactive_at > timescale.scaled(INACTIVE_KEPT) \
                        or sum(d.status == "INACTIVE" for d in kept) >= MAX_INACTIVE:
                    continue
            kept.append(deployment)
        state.deployments = kept

    def _live(self, deployment: Deployment) -> list[TaskRun]:
        return [run for run in deployment.runs if run.task.desired_status == "RUNNING"]

    def _usefulness(self, run: TaskRun) -> int:
        return 0 if run.last_status != "RUNNING" else (1 if run.health != HEALTHY else 2)

    def _healthy(self, state: ServiceState, run: TaskRun) -> bool:
        if run.last_status != "RUNNING" or run.health == UNHEALTHY:
            return False
        checked = any(c.essential and c.monitor for c in run.containers)
        if checked and run.health != HEALTHY:
            return False
        started = run.task.started_at.timestamp() if run.task.started_at else time.time()
        if not checked and time.time() - started < timescale.scaled(MIN_UPTIME):
            return False  # without a health check, a task proves itself by staying up
        # "unused": the target group serves no listener, so no load balancer checks it
        # (AWS refuses such a service; a task set may meet it): no opinion, as None.
        return all(health in (None, "healthy", "unused")
                   for health in self._target_health(state, run))

    def _target_health(self, state: ServiceState, run: TaskRun) -> list[str | None]:
        if self.target_health is None:
            return []
        return [self.target_health(group, ip, port)
                for group, ip, port in state.registered.get(run.arn, [])]

    # --- launching and stopping ------------------------------------------------------------

    def _launch(self, state: ServiceState, deployment: Deployment, count: int) -> None:
        service = state.service
        try:
            runs = self.sandbox.create_and_run(
                service, deployment.task_definition, count, started_by=deployment.id)
        except Exception as error:  # moto refused (a deregistered definition, a bad subnet)
            state.event(f"was unable to place a task. Reason: {error}.")
            self._failed(deployment)
            return
        balancers = deployment.task_set.load_balancers if deployment.task_set is not None \
            else None
        for run in runs:
            run.balancers = balancers  # type: ignore[attr-defined]
        deployment.runs.extend(runs)
        state.steady = False
        ids = " ".join(f"(task {run.id})" for run in runs)
        state.event(f"has started {len(runs)} tasks: {ids}.")

    def _retire(self, state: ServiceState, run: TaskRun, reason: str,
                code: str = "ServiceSchedulerInitiated", *, failure: bool = False) -> None:
        """Deregister `run`'s targets, drain them, then stop it."""
        if run.arn in state.draining or run.task.desired_status != "RUNNING":
            return
        if not failure:
            state.retired.add(run.arn)
        # ECS names why a task stops from the moment it decides to (DescribeTasks shows the
        # reason of a task still draining or stopping), not only once it has stopped
        records.update(run.task, desired_status="STOPPED", stopped_reason=reason,
                       stop_code=code)
        delay = 0.0
        for group, ip, port in state.registered.pop(run.arn, []):
            delay = max(delay, self._deregister(state, group, ip, port))
        if delay > 0 and run.last_status == "RUNNING":
            records.update(run.task, last_status="DEACTIVATING")
        run.stop_reason_pending = (reason, code)  # type: ignore[attr-defined]
        state.draining[run.arn] = (time.monotonic() + delay, run)
        state.steady = False
        state.event(f"has stopped 1 running tasks: (task {run.id}).")

    def _finish_drains(self, state: ServiceState) -> None:
        for arn, (deadline, run) in list(state.draining.items()):
            if time.monotonic() >= deadline or run.stopped.is_set():
                for port in {p for _g, _ip, p in state.registered.get(arn, [])}:
                    self.sandbox.env.directory.unregister(run.ip, port)
                self._unlink(run)
                run.request_stop(*run.stop_reason_pending)  # type: ignore[attr-defined]
                del state.draining[arn]

    def _unlink(self, run: TaskRun) -> None:
        for (_container, port) in run.forwarders:
            endpoint = self.sandbox.env.directory.lookup(run.ip, port)
            if endpoint is not None and endpoint.task_arn == run.arn:
                self.sandbox.env.directory.unregister(run.ip, port)

    def _collect_stopped(self, state: ServiceState) -> None:
        for deployment in state.deployments:
            for run in list(deployment.runs):
                if not run.stopped.is_set():
                    continue
                deployment.runs.remove(run)
                for group, ip, port in state.registered.pop(run.arn, []):
                    self._deregister(state, group, ip, port)
                self._unlink(run)
                if run.arn in state.retired:
                    state.retired.discard(run.arn)
                    continue
                if run.failed_to_start or run.task.stop_code in FAILURE_CODES \
                        or getattr(run, "health_failure", False):
                    self._failed(deployment)
                state.steady = False

    def _failed(self, deployment: Deployment) -> None:
        deployment.failed_tasks += 1
        deployment.consecutive_failures += 1
        delay = min(BACKOFF_BASE * 2 ** (deployment.consecutive_failures - 1), BACKOFF_MAX)
        deployment.next_launch = time.monotonic() + timescale.scaled(delay)
        deployment.updated_at = records.now()

    def _enforce_health(self, state: ServiceState) -> None:
        configured = float(getattr(state.service, "health_check_grace_period_seconds", 0) or 0)
        grace = timescale.scaled(configured, floor=GRACE_FLOOR) if configured else 0.0
        for deployment in state.deployments:
            for run in self._live(deployment):
                if run.last_status != "RUNNING":
                    continue
                if run.health == UNHEALTHY:
                    run.health_failure = True  # type: ignore[attr-defined]
                    self._retire(state, run, "Task failed container health checks",
                                 failure=True)
                    continue
                if self._healthy(state, run):
                    deployment.consecutive_failures = 0
                started = run.task.started_at.timestamp() if run.task.started_at else 0
                if time.time() - started < grace:
                    continue
                for (group, _ip, _port), health in zip(
                        state.registered.get(run.arn, []),
                        self._target_health(state, run), strict=False):
                    if health == "unhealthy":
                        run.health_failure = True  # type: ignore[attr-defined]
                        self._retire(state, run, "Task failed ELB health checks in "
                                     f"(target-group {group})", failure=True)
                        break

    # --- the circuit breaker and completion ----------------------------------------------

    def _circuit_breaker(self, state: ServiceState, primary: Deployment, desired: int) -> None:
        breaker = (state.service.deployment_configuration or {}).get(
            "deploymentCircuitBreaker") or {}
        if not breaker.get("enable") or primary.rollout_state != "IN_PROGRESS":
            return
        threshold = min(200, max(3, math.ceil(desired / 2)))
        if primary.failed_tasks < threshold:
            return
        primary.rollout_state = "FAILED"
        primary.rollout_reason = "ECS deployment circuit breaker: tasks failed to start."
        primary.updated_at = records.now()
        state.event(f"(deployment {primary.id}) deployment failed: tasks failed to start.")
        target = state.last_completed
        # A rollback that fails too is left FAILED: rolling back again would loop.
        if breaker.get("rollback") and target is not None and not primary.rollback:
            state.event(f"rolling back to deployment {target.id}.")
            self._deploy(state, target.task_definition,
                         f"ECS deployment circuit breaker: rolling back to deploymentId "
                         f"{target.id}.").rollback = True
            with records.LOCK:
                state.service.task_definition = target.task_definition
            for run in self._live(primary):
                self._retire(state, run, f"Scaling activity initiated by (deployment "
                             f"{state.deployments[0].id})")

    def _complete(self, state: ServiceState, primary: Deployment, desired: int) -> None:
        others = any(d.runs for d in state.deployments[1:])
        healthy = sum(1 for run in self._live(primary) if self._healthy(state, run))
        settled = healthy == desired and len(self._live(primary)) == desired \
            and not others and not state.draining
        if not settled:
            return
        if primary.rollout_state == "IN_PROGRESS":
            primary.rollout_state = "COMPLETED"
            primary.rollout_reason = f"ECS deployment {primary.id} completed."
            primary.updated_at = records.now()
            state.last_completed = primary
            state.event(f"(deployment {primary.id}) deployment completed.")
        if not state.steady:
            state.steady = True
            state.event("has reached a steady state.")

    # --- target groups ---------------------------------------------------------------------

    def _register(self, state: ServiceState, run: TaskRun) -> None:
        if run.arn in state.registered or run.last_status != "RUNNING":
            return
        targets = []
        backend = elbv2_backends[self.sandbox.env.account_id][self.sandbox.env.region]
        balancers = getattr(run, "balancers", None)
        for balancer in state.service.load_balancers if balancers is None else balancers:
            group = balancer.get("targetGroupArn")
            port = int(balancer.get("containerPort") or 0)
            socket = run.socket_for(balancer.get("containerName", ""), port)
            if not group or socket is None:
                continue
            self.sandbox.env.directory.register(
                run.ip, port, Endpoint(socket, run.arn, balancer.get("containerName", "")))
            try:
                backend.register_targets(group, [{"Id": run.ip, "Port": port}])
            except Exception as error:  # a deleted target group: say so, keep the task
                state.event(f"failed to register targets in (target-group {group}): {error}")
                continue
            targets.append((group, run.ip, port))
            state.event(f"registered 1 targets in (target-group {group})")
        state.registered[run.arn] = targets

    def _deregister(self, state: ServiceState, group: str, ip: str, port: int) -> float:
        """Deregister a target; the drain time (deregistration delay, scaled)."""
        backend = elbv2_backends[self.sandbox.env.account_id][self.sandbox.env.region]
        target_group = backend.target_groups.get(group)
        if target_group is None:
            return 0.0
        try:
            backend.deregister_targets(group, [{"Id": ip, "Port": port}])
        except Exception:  # already gone: nothing to drain
            return 0.0
        state.event(f"deregistered 1 targets in (target-group {group})")
        delay = float(target_group.attributes.get("deregistration_delay.timeout_seconds", 300))
        return timescale.scaled(delay)

    # --- what DescribeServices shows -------------------------------------------------------

    def _publish(self, state: ServiceState) -> None:
        service = state.service
        shown = []
        running = pending = 0
        for deployment in state.deployments:
            live = self._live(deployment)
            run_count = sum(1 for r in live if r.last_status == "RUNNING")
            pend_count = sum(1 for r in live if r.last_status in ("PROVISIONING", "PENDING"))
            running += run_count
            pending += pend_count
            desired = int(service.desired_count or 0) if deployment.status == "PRIMARY" \
                and service.status == "ACTIVE" else len(live)
            shown.append({
                "id": deployment.id, "status": deployment.status,
                "taskDefinition": deployment.task_definition, "desiredCount": desired,
                "pendingCount": pend_count, "runningCount": run_count,
                "failedTasks": deployment.failed_tasks, "createdAt": deployment.created_at,
                "updatedAt": deployment.updated_at,
                "launchType": service.launch_type, "platformVersion": service.platform_version,
                "networkConfiguration": service.network_configuration or None,
                "rolloutState": deployment.rollout_state,
                "rolloutStateReason": deployment.rollout_reason,
            })
        records.update(service, deployments=shown, running_count=running,
                       pending_count=pending, events=list(state.events))
