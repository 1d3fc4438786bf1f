"""Task sets: how a service with the CODE_DEPLOY (or EXTERNAL) deployment controller runs.

ECS's own scheduler does not roll such a service; its controller (CodeDeploy, or the user's
CreateTaskSet/UpdateTaskSet/UpdateServicePrimaryTaskSet/DeleteTaskSet) moves task sets, and ECS
keeps each task set at its scale: `ceil(desiredCount * scale%)` tasks of its task definition,
registered with the task set's own target groups, failed ones replaced (with back-off). Here:
- CreateService with CODE_DEPLOY makes the initial PRIMARY task set, as ECS does (EXTERNAL
  makes none);
- CreateTaskSet makes a task set (ACTIVE) and the scheduler runs its tasks (moto would run
  them once, untracked, and only on EC2); UpdateTaskSet's scale is followed;
  UpdateServicePrimaryTaskSet is moto's (it makes the service's load balancers and task
  definition the primary's), except that a task set being deleted stays DRAINING (moto
  would make it ACTIVE again, and its tasks would start again);
- DeleteTaskSet drains the task set (status DRAINING): its targets are deregistered and
  drained, its tasks stopped, then it is gone;
- DescribeTaskSets shows computedDesiredCount, runningCount, pendingCount and stabilityStatus
  (STEADY_STATE once every task runs and is healthy, as the scheduler counts health).

`EcsSandbox.task_set_health(task_set_arn)` answers what CodeDeploy's Install step waits for.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from shipyard_sandbox.ecs import records

if TYPE_CHECKING:
    from shipyard_sandbox.ecs.scheduler import Deployment, Scheduler, ServiceState


class TaskSetScheduling:
    """The task-set half of the scheduler (mixed into `Scheduler`)."""

    def task_sets_changed(self: Scheduler, service: Any) -> None:
        """A CODE_DEPLOY/EXTERNAL service was created, updated or deleted, or one of its
        task sets was: follow its task sets."""
        from shipyard_sandbox.ecs.scheduler import Deployment, ServiceState

        with self._lock:
            state = self.states.get(service.arn)
            if state is None:
                state = self.states[service.arn] = ServiceState(service)
                state.task_sets = True
            if service.status != "ACTIVE":
                records.update(service, status="DRAINING")
            known = {d.task_set.task_set_arn for d in state.deployments}
            for task_set in list(service.task_sets):
                if task_set.task_set_arn not in known:
                    deployment = Deployment(task_set.task_definition, task_set=task_set)
                    deployment.status = task_set.status
                    state.deployments.append(deployment)
            state.steady = False
            self._publish_task_sets(state)

    def _reconcile_task_sets(self: Scheduler, state: ServiceState) -> bool:
        service = state.service
        deleting = service.status != "ACTIVE"
        self._collect_stopped(state)
        self._enforce_health(state)
        self._finish_drains(state)
        for deployment in list(state.deployments):
            task_set = deployment.task_set
            want = 0 if deleting or task_set.status == "DRAINING" else _count(service, task_set)
            live = self._live(deployment)
            for run in live:
                self._register(state, run)
            if want > len(live) and time.monotonic() >= deployment.next_launch:
                self._launch(state, deployment, want - len(live))
            for run in sorted(live, key=self._usefulness)[:max(0, len(live) - want)]:
                self._retire(state, run, "Scaling activity initiated by (deployment "
                             f"{task_set.id})")
            if (task_set.status == "DRAINING" or deleting) and not deployment.runs \
                    and not any(r.arn in state.draining for r in live):
                state.deployments.remove(deployment)
                with records.LOCK:
                    if task_set in service.task_sets:
                        service.task_sets.remove(task_set)
        stable = all(self._stable(state, d) for d in state.deployments)
        if stable and not state.steady and state.deployments:
            state.steady = True
            state.event("has reached a steady state.")
        self._publish_task_sets(state)
        return deleting and not state.deployments and not state.draining

    def _stable(self: Scheduler, state: ServiceState, deployment: Deployment) -> bool:
        live = self._live(deployment)
        want = _count(state.service, deployment.task_set)
        return len(live) == want and all(self._healthy(state, run) for run in live)

    def task_set_health(self: Scheduler, task_set_arn: str) -> str:
        """"HEALTHY" once the task set runs its count, every task healthy; "PENDING" before;
        "FAILED: <reason>" if it is gone or none of its tasks could start lately."""
        with self._lock:
            for state in self.states.values():
                for deployment in state.deployments:
                    if deployment.task_set is None \
                            or deployment.task_set.task_set_arn != task_set_arn:
                        continue
                    if self._stable(state, deployment):
                        return "HEALTHY"
                    if deployment.consecutive_failures >= 3:
                        return (f"FAILED: {deployment.consecutive_failures} tasks of the task "
                                "set failed to start or to become healthy")
                    return "PENDING"
        return "FAILED: no such task set"

    def _publish_task_sets(self: Scheduler, state: ServiceState) -> None:
        running = pending = 0
        for deployment in state.deployments:
            live = self._live(deployment)
            run_count = sum(1 for r in live if r.last_status == "RUNNING")
            pend_count = sum(1 for r in live if r.last_status in ("PROVISIONING", "PENDING"))
            running, pending = running + run_count, pending + pend_count
            stability = "STEADY_STATE" if self._stable(state, deployment) else "STABILIZING"
            task_set = deployment.task_set
            if task_set.stabilityStatus != stability:
                records.update(task_set, stabilityStatus=stability,
                               stabilityStatusAt=records.now())
            records.update(task_set, computed_desired_count=_count(state.service, task_set),
                           running_count=run_count, pending_count=pend_count)
        records.update(state.service, running_count=running, pending_count=pending,
                       events=list(state.events))


def _count(service: Any, task_set: Any) -> int:
    scale = task_set.scale or {"value": 100.0, "unit": "PERCENT"}
    value = float(scale.get("value", 100.0))
    return math.ceil(int(service.desired_count or 0) * value / 100 - 1e-9)


def install(backend_cls: Any, scheduler_of: Any) -> None:
    """Patch moto's task-set calls so that the scheduler runs and drains task sets."""
    original_create = backend_cls.create_task_set
    original_delete = backend_cls.delete_task_set
    original_update = backend_cls.update_task_set
    original_primary = backend_cls.update_service_primary_task_set

    def create_task_set(self, service, cluster_str, task_definition, external_id=None,
                        network_configuration=None, load_balancers=None, *args, **kwargs):
        scale = kwargs.pop("scale", None)
        launch_type = kwargs.pop("launch_type", None) or "FARGATE"
        # Without a scale moto runs nothing itself: the scheduler runs the task set.
        task_set = original_create(self, service, cluster_str, task_definition, external_id,
                                   network_configuration, load_balancers, *args,
                                   launch_type=launch_type, scale=None, **kwargs)
        records.update(task_set, scale=scale or {"value": 100.0, "unit": "PERCENT"})
        scheduler_of().task_sets_changed(self._get_service(cluster_str, service))
        return task_set

    def delete_task_set(self, cluster, service, task_set):
        found = self.describe_task_sets(cluster, service, [task_set])
        if not found:
            return original_delete(self, cluster, service, task_set)  # moto's NotFound
        records.update(found[0], status="DRAINING")
        scheduler_of().task_sets_changed(self._get_service(cluster, service))
        return found[0]

    def update_task_set(self, cluster, service, task_set, scale):
        updated = original_update(self, cluster, service, task_set, scale)
        scheduler_of().task_sets_changed(self._get_service(cluster, service))
        return updated

    def update_service_primary_task_set(self, cluster, service, primary_task_set):
        # Under the scheduler's lock, so that no reconcile sees a deleted set ACTIVE.
        with scheduler_of()._lock:
            found = self.describe_services(cluster, [service])[0]
            draining = [t for s in found for t in s.task_sets if t.status == "DRAINING"]
            answer = original_primary(self, cluster, service, primary_task_set)
            for task_set in draining:
                records.update(task_set, status="DRAINING")
        return answer

    backend_cls.create_task_set = create_task_set
    backend_cls.update_service_primary_task_set = update_service_primary_task_set
    backend_cls.delete_task_set = delete_task_set
    backend_cls.update_task_set = update_task_set


def create_initial(backend: Any, service: Any) -> None:
    """The PRIMARY task set ECS makes when a CODE_DEPLOY service is created."""
    if service.task_definition is None or service.task_sets:
        return
    task_set = backend.create_task_set(
        service.name, service.cluster_name, service.task_definition,
        network_configuration=service.network_configuration or None,
        load_balancers=service.load_balancers, launch_type=service.launch_type,
        platform_version=service.platform_version)
    records.update(task_set, status="PRIMARY")


