"""moto's ECS backend patched in-process so that its tasks run (see the package docstring).

`install(sandbox)` patches moto's classes once per process; the patches act on the sandbox
installed last (`EcsSandbox`), so a process runs one sandbox's ECS at a time.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses

from shipyard_sandbox.ecs import records, tasksets
from shipyard_sandbox.ecs.scheduler import Scheduler
from shipyard_sandbox.ecs.tasks import TaskRun
from shipyard_sandbox.runtime import leftovers

STOP_WAIT = 30.0  # at most this long for all tasks to stop when the sandbox stops
_current: EcsSandbox | None = None
_installed = False
_original_run_task: Any = None


class SandboxTask(ecs_models.Task):
    """moto's task with a plain lastStatus: the sandbox, not a state machine, moves it."""

    @property
    def last_status(self) -> str:
        return self.__dict__.get("_sandbox_status", "PROVISIONING")

    @last_status.setter
    def last_status(self, value: str) -> None:
        self.__dict__["_sandbox_status"] = value

    def advance(self) -> None:
        """moto advances a task on each DescribeTasks; here only the task's thread does."""


class EcsSandbox:
    """The running tasks and the service scheduler of one sandbox."""

    def __init__(self, env: records.Environment) -> None:
        self.env = env
        self.runs: dict[str, TaskRun] = {}
        self._lock = threading.Lock()
        self.scheduler = Scheduler(self)

    @property
    def backend(self) -> ecs_models.EC2ContainerServiceBackend:
        return ecs_models.ecs_backends[self.env.account_id][self.env.region]

    def start(self) -> EcsSandbox:
        # A sandbox that crashed may have left task processes: end them before any task runs.
        leftovers.reap(self.env.tasks_dir)
        self.env.tasks_dir.mkdir(parents=True, exist_ok=True)
        self.scheduler.start()
        return self

    def stop(self) -> None:
        """Stop the scheduler and every task; nothing of them is left afterwards."""
        self.scheduler.stop()
        with self._lock:
            runs = list(self.runs.values())
        for run in runs:
            run.request_stop("Sandbox stopped", "UserInitiated")
        deadline = time.monotonic() + STOP_WAIT
        for run in runs:
            run.join(max(0.1, deadline - time.monotonic()))
        self.env.images.close()

    def launch(self, tasks: list[Any], on_stopped=None) -> list[TaskRun]:
        """Run moto's freshly created `tasks` as real processes."""
        started = []
        for task in tasks:
            definition = self.backend.describe_task_definition(task.task_definition_arn)
            run = TaskRun(self.env, task, definition, on_stopped)
            with self._lock:
                self.runs[run.arn] = run
            started.append(run.start())
        return started

    def create_and_run(self, service: Any, task_definition: str, count: int, *,
                       started_by: str) -> list[TaskRun]:
        """Create `count` tasks of `service` in moto (as ECS's scheduler does) and run them.
        Every task runs as Fargate runs it: no container instance is needed."""
        assert _original_run_task is not None
        tasks = _original_run_task(
            self.backend, service.cluster_name, task_definition, count, None, started_by,
            None, "FARGATE", service.network_configuration or None,
            f"service:{service.name}", service.platform_version)
        for task in tasks:
            records.update(task, launch_type=service.launch_type or "FARGATE")
        return self.launch(tasks)

    def task_set_health(self, task_set_arn: str) -> str:
        """"HEALTHY", "PENDING" or "FAILED: <reason>": whether a task set (CodeDeploy's
        replacement, say) runs its count of healthy tasks (see `tasksets`)."""
        return self.scheduler.task_set_health(task_set_arn)

    def run_of(self, task_arn: str) -> TaskRun | None:
        with self._lock:
            return self.runs.get(task_arn)


def install(sandbox: EcsSandbox) -> None:
    """Make moto's ECS run tasks in `sandbox`. The patches are installed once per process."""
    global _current, _installed, _original_run_task
    _current = sandbox
    if _installed:
        return
    _installed = True
    backend_cls = ecs_models.EC2ContainerServiceBackend
    original_run_task = _original_run_task = backend_cls.run_task
    original_list_tasks = backend_cls.list_tasks
    original_create = ecs_responses.EC2ContainerServiceResponse.create_service
    original_update = ecs_responses.EC2ContainerServiceResponse.update_service
    original_delete = backend_cls.delete_service

    ecs_models.Task = SandboxTask
    # moto names an ENI only in a VPC with DNS host names, then reads the name for every
    # awsvpc task: without one, None (what DescribeNetworkInterfaces shows anyway).
    if not hasattr(NetworkInterface, "private_dns_name"):
        NetworkInterface.private_dns_name = None
    # moto invents an ENI address in 10/8 or 172.16/12 or 192.168/16; the sandbox never gives
    # anything such an address: a task's address comes from the target directory instead.
    ecs_models.random_private_ip = lambda *_args, **_kw: _sandbox().env.directory \
        .allocate_task_ip()

    def run_task(self, *args: Any, **kwargs: Any) -> list[Any]:
        tasks = original_run_task(self, *args, **kwargs)
        _sandbox().launch(tasks)
        return tasks

    def stop_task(self, cluster_str: str, task_str: str, reason: str) -> Any:
        cluster = self._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in self.tasks.get(cluster.name, {}).items():
            if arn.endswith(task_id):
                run = _sandbox().run_of(arn)
                if run is not None:
                    run.request_stop(reason or "Task stopped by user", "UserInitiated")
                return task
        raise ecs_models.InvalidParameterException("The referenced task was not found.")

    def list_tasks(self, cluster_str=None, container_instance=None, family=None,
                   started_by=None, service_name=None, desiredStatus=None):
        # ECS lists only tasks meant to run unless asked for STOPPED ones.
        tasks = original_list_tasks(self, cluster_str, container_instance, family,
                                    started_by, None, desiredStatus or "RUNNING")
        if service_name:
            group = f"service:{service_name.split('/')[-1]}"
            tasks = [t for t in tasks if t.group == group]
        return tasks

    def create_service_response(self):
        result = original_create(self)
        service = self.ecs_backend._get_service(self._get_param("cluster", "default"),
                                                self._get_param("serviceName"))
        _keep_settings(self, service, True)
        if (service.deployment_controller or {}).get("type") == "CODE_DEPLOY":
            tasksets.create_initial(self.ecs_backend, service)
        _sandbox().scheduler.changed(service, new_deployment=True)
        return result

    def update_service_response(self):
        cluster = self._get_param("cluster", "default")
        name = self._get_param("service").split("/")[-1]
        before = self.ecs_backend._get_service(cluster, name)
        definition_before = before.task_definition
        result = original_update(self)
        service = self.ecs_backend._get_service(cluster, name)
        _keep_settings(self, service, False)
        rolls = bool(self._get_param("forceNewDeployment")) or (
            service.task_definition != definition_before)
        _sandbox().scheduler.changed(service, new_deployment=rolls)
        return result

    def delete_service(self, cluster_name: str, service_name: str, force: bool) -> Any:
        service = original_delete(self, cluster_name, service_name, force)
        _sandbox().scheduler.changed(service, new_deployment=False)
        return service

    backend_cls.run_task = run_task
    tasksets.install(backend_cls, lambda: _sandbox().scheduler)
    backend_cls._calculate_task_resource_requirements = staticmethod(_requirements)
    backend_cls.stop_task = stop_task
    backend_cls.list_tasks = list_tasks
    backend_cls.delete_service = delete_service
    ecs_responses.EC2ContainerServiceResponse.create_service = create_service_response
    ecs_responses.EC2ContainerServiceResponse.update_service = update_service_response


def _requirements(task_definition: Any) -> dict[str, Any]:
    """moto's sum of the containers' cpu and memory, which fails on a Fargate definition
    whose containers leave memory to the task (GamePulse's do); the sandbox places nothing
    by it."""
    cpu = memory = 0
    for container in task_definition.container_definitions:
        cpu += int(container.get("cpu") or 0)
        memory += int(container.get("memory") or container.get("memoryReservation") or 0)
    return {"CPU": cpu, "MEMORY": memory, "PORTS": [], "PORTS_UDP": []}


def _sandbox() -> EcsSandbox:
    if _current is None:
        raise RuntimeError("the sandbox's ECS is not installed")
    return _current


DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200, "minimumHealthyPercent": 100}


def _keep_settings(response: Any, service: Any, creating: bool) -> None:
    """Keep what moto drops: deploymentConfiguration and healthCheckGracePeriodSeconds."""
    configuration = response._get_param("deploymentConfiguration")
    with records.LOCK:
        if creating or not hasattr(service, "deployment_configuration"):
            service.deployment_configuration = dict(DEFAULT_DEPLOYMENT_CONFIGURATION)
        if configuration:
            merged = {**service.deployment_configuration, **configuration}
            service.deployment_configuration = merged
        grace = response._get_param("healthCheckGracePeriodSeconds")
        if grace is not None:
            service.health_check_grace_period_seconds = int(grace)
        elif creating:
            service.health_check_grace_period_seconds = 0
