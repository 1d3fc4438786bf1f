"""One ECS task's life as real processes: `TaskRun` drives a moto task record through
PROVISIONING -> PENDING -> RUNNING -> (DEACTIVATING) -> STOPPING -> DEPROVISIONING -> STOPPED.

At start it pins each image to a digest in the sandbox registry, pulls the host's variant,
resolves `secrets`, opens the `awslogs` streams, makes the task's network namespace and starts
the containers in `dependsOn` order; each container port gets a forwarder (a Unix socket the
load balancer reaches). While it runs it watches the essential containers and the health
checks. It stops when asked (`request_stop`) or when an essential container exits, stopping
the containers in reverse order, as ECS's agent does. What it reports is written onto the
moto record (`publish`), under `ecs.records.LOCK`.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipyard_sandbox import timescale
from shipyard_sandbox.ecs import faults, records
from shipyard_sandbox.ecs.logs import LogConfigError, sink_for
from shipyard_sandbox.ecs.secrets import SecretError, resolve_all
from shipyard_sandbox.runtime import launch
from shipyard_sandbox.runtime.forwarder import Forwarder, ForwarderError
from shipyard_sandbox.runtime.healthcheck import HEALTHY, UNHEALTHY, UNKNOWN, HealthMonitor
from shipyard_sandbox.runtime.images import ImageError, host_platform
from shipyard_sandbox.runtime.launch import ContainerStartError
from shipyard_sandbox.runtime.network import TaskNetwork, TaskNetworkError
from shipyard_sandbox.runtime.process import Container

WATCH_INTERVAL = 0.1
FORWARDER_EXIT_WAIT = 2.0  # a forwarder that failed: whether its container is ending
MAX_WATCH_TICKS = 10**9  # a bound no task reaches: three years at WATCH_INTERVAL
ARCHITECTURES = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
NOT_RUN = "not run by the sandbox: the image is not in the sandbox registry"


class StartFailure(Exception):
    """The task cannot start: (stopCode, stoppedReason) as ECS reports them."""

    def __init__(self, reason: str, code: str = "TaskFailedToStart") -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


class ContainerRun:
    """One container of the task: its definition and, once started, its process."""

    def __init__(self, definition: dict[str, Any],
                 reference: tuple[str, str | None, str | None] | None) -> None:
        self.definition = definition
        self.name: str = definition.get("name", "container")
        self.essential = definition.get("essential", True) is not False
        self.reference = reference  # (repository, tag, digest) in the sandbox registry
        self.digest: str | None = None
        self.process: Container | None = None
        self.monitor: HealthMonitor | None = None
        self.status = "PENDING"
        self.exit_code: int | None = None
        self.reason: str | None = None

    @property
    def runs(self) -> bool:
        return self.reference is not None

    @property
    def health(self) -> str:
        return self.monitor.status if self.monitor else UNKNOWN

    def satisfies(self, condition: str) -> bool | None:
        """Whether a dependent may start; None while undecided; False if it never will."""
        if not self.runs:
            return True  # not run here: nothing to wait for (documented)
        if condition == "START":
            return self.status in ("RUNNING", "STOPPED") or None
        if condition == "HEALTHY":
            return True if self.health == HEALTHY else (False if self.status == "STOPPED"
                                                        else None)
        if self.status != "STOPPED":
            return None
        return condition == "COMPLETE" or self.exit_code == 0


class TaskRun:
    """Runs one moto `task` of `task_definition` until stopped; `on_stopped(run)` is called
    once everything of it is gone."""

    def __init__(self, env: records.Environment, task: Any, task_definition: Any,
                 on_stopped: Callable[[TaskRun], None] | None = None) -> None:
        self.env = env
        self.task = task
        self.arn: str = task.task_arn
        self.id: str = task.id
        self.definition = task_definition
        self.on_stopped = on_stopped
        self.ip = records.task_ip(task) or env.directory.allocate_task_ip()
        self.folder = env.tasks_dir / self.id
        overrides = {o.get("name"): o for o in (task.overrides or {}).get(
            "containerOverrides") or []}
        self.containers = [
            ContainerRun(_overridden(d, overrides.get(d.get("name"))),
                         env.parse_image(d.get("image", "")))
            for d in task_definition.container_definitions]
        self.network: TaskNetwork | None = None
        self.forwarders: dict[tuple[str, int], Forwarder] = {}
        self.started = threading.Event()  # RUNNING reached (or the start failed)
        self.stopped = threading.Event()
        self._stop = threading.Event()
        self._stop_request: tuple[str, str] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"task-{self.id}")
        self.note = _platform_note(task_definition)
        self.failed_to_start = False

    # --- control ---------------------------------------------------------------------------

    def start(self) -> TaskRun:
        records.update(self.task, last_status="PROVISIONING", desired_status="RUNNING",
                       created_at=records.now(), connectivity="CONNECTED",
                       health_status="UNKNOWN", attributes=self._attributes())
        self._publish()
        self._thread.start()
        return self

    def request_stop(self, reason: str, code: str = "UserInitiated") -> None:
        if self._stop_request is None:
            self._stop_request = (reason, code)
            records.update(self.task, desired_status="STOPPED", stopped_reason=reason,
                           stop_code=code)
        self._stop.set()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def last_status(self) -> str:
        return self.task.last_status

    @property
    def health(self) -> str:
        """ECS's task healthStatus: from the essential containers that have a health check."""
        checked = [c for c in self.containers if c.essential and c.monitor]
        if not checked:
            return UNKNOWN
        if any(c.health == UNHEALTHY for c in checked):
            return UNHEALTHY
        return HEALTHY if all(c.health == HEALTHY for c in checked) else UNKNOWN

    def socket_for(self, container: str, port: int) -> Path | None:
        forwarder = self.forwarders.get((container, port))
        return forwarder.socket_path if forwarder else None

    # --- the task's thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._prepare()
            self._start_containers()
            if self._stop.is_set():
                raise StartFailure(*self._stop_request or ("Task stopped", "UserInitiated"))
            records.update(self.task, last_status="RUNNING", started_at=records.now())
            self._publish()
            self.started.set()
            self._watch()
        except StartFailure as failure:
            self.failed_to_start = self._stop_request is None
            if self._stop_request is None:
                self._stop_request = (failure.reason, failure.code)
        except Exception as error:  # never leave a task half-started without a reason
            self.failed_to_start = True
            self._stop_request = self._stop_request or (
                f"InternalError: the sandbox failed to run the task: {error}",
                "TaskFailedToStart")
        finally:
            self.started.set()
            self._tear_down()

    def _prepare(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self.network = TaskNetwork().start(self.folder)
        except TaskNetworkError as error:
            raise StartFailure(f"ResourceInitializationError: {error}") from error
        records.update(self.task, last_status="PENDING", pull_started_at=records.now())
        self._publish()
        if not any(c.runs for c in self.containers):
            raise StartFailure("CannotPullContainerError: none of the task's images is in the "
                               "sandbox registry, so the sandbox has nothing to run")
        for container in self.containers:
            if not container.runs:
                container.reason = NOT_RUN
                continue
            self._pull(container)
        records.update(self.task, pull_stopped_at=records.now())
        self._publish()

    def _pull(self, container: ContainerRun) -> None:
        repository, tag, digest = container.reference
        image_name = container.definition.get("image")
        try:
            digest = digest or self.env.images.resolve(repository, tag or "latest")
            container.digest = digest
            image = self.env.images.pull(repository, digest)
        except ImageError as error:
            container.reason = f"CannotPullContainerError: {error}"
            raise StartFailure(f"CannotPullContainerError: pull image manifest has been "
                               f"retried 1 time(s): failed to resolve ref {image_name}: "
                               f"{error}") from error
        container.image = image  # type: ignore[attr-defined]

    def _start_containers(self) -> None:
        secrets_of = {}
        sinks = {}
        for container in self.containers:
            if not container.runs:
                continue
            try:
                secrets_of[container.name] = resolve_all(
                    container.definition.get("secrets") or [], self.env.account_id,
                    self.env.region)
                sinks[container.name] = sink_for(container.definition, self.id,
                                                 self.env.account_id, self.env.region)
            except SecretError as error:
                raise StartFailure("ResourceInitializationError: unable to pull secrets or "
                                   f"registry auth: {error}") from error
            except LogConfigError as error:
                raise StartFailure(str(error)) from error
        volumes = self._volumes()
        deadline_ticks = int(timescale.scaled(180, floor=5.0) / WATCH_INTERVAL)
        waiting = [c for c in self.containers if c.runs]
        for _ in range(deadline_ticks):
            if not waiting or self._stop.is_set():
                return
            for container in list(waiting):
                ready = self._dependencies(container)
                if ready is False:
                    raise StartFailure(f"DependencyError: a dependency of container "
                                       f"{container.name} can never be met")
                if ready:
                    self._start(container, secrets_of[container.name],
                                sinks[container.name], volumes)
                    waiting.remove(container)
            if waiting:
                self._stop.wait(WATCH_INTERVAL)
        if waiting:
            raise StartFailure(f"DependencyTimeout: container {waiting[0].name} waited too "
                               "long for its dependencies")

    def _dependencies(self, container: ContainerRun) -> bool | None:
        by_name = {c.name: c for c in self.containers}
        verdicts = []
        for dependency in container.definition.get("dependsOn") or []:
            other = by_name.get(dependency.get("containerName"))
            if other is None:
                return False
            verdicts.append(other.satisfies(dependency.get("condition", "START")))
        if False in verdicts:
            return False
        return None if None in verdicts else True

    def _start(self, container: ContainerRun, secrets: dict[str, str], sink: Any,
               volumes: dict[str, Path]) -> None:
        definition = dict(container.definition)
        knob = faults.knob_for(definition.get("image", ""), self.env.account_id,
                               self.env.region)
        if knob and knob["fault"] == faults.EXIT_AT_START:
            container.status, container.exit_code = "STOPPED", int(knob.get("exitCode", 1))
            container.reason = f"sandbox fault knob {knob['name']}: exit-at-start"
            self._publish()
            return
        # Secrets join the environment only here, in the process's spec; never the record.
        definition["environment"] = [*(definition.get("environment") or []),
                                     *({"name": k, "value": v} for k, v in secrets.items())]
        try:
            plan = launch.plan(container.image, definition, volumes)  # type: ignore[attr-defined]
            process = Container(plan, self.folder / "containers" / container.name,
                                sink.write if sink else _discard,
                                network=self.network.pid if self.network else None)
            process.start()
        except ContainerStartError as error:
            container.reason = f"CannotStartContainerError: {error}"
            container.status = "STOPPED"
            self._publish()
            raise StartFailure(f"CannotStartContainerError: {error}") from error
        container.process = process
        container.status = "RUNNING"
        health_check = definition.get("healthCheck")
        if knob and knob["fault"] == faults.FAIL_HEALTH_CHECK:
            container.reason = f"sandbox fault knob {knob['name']}: fail-health-check"
            container.monitor = faults.FailingHealth(  # type: ignore[assignment]
                health_check, lambda _status: self._publish()).start()
        elif health_check and health_check.get("command"):
            container.monitor = HealthMonitor(process, health_check,
                                              time_scale=timescale.factor(),
                                              on_change=lambda _status: self._publish())
            container.monitor.start()
        for mapping in definition.get("portMappings") or []:
            port = int(mapping.get("containerPort", 0))
            if port and process.pid:
                socket = self.folder / "ports" / f"{container.name}-{port}.sock"
                try:
                    self.forwarders[(container.name, port)] = Forwarder.start(
                        process.pid, port, socket)
                except (ForwarderError, ValueError) as error:
                    # A container that already exited leaves nothing to forward to (the
                    # forwarder's own error report can then fail: ValueError); the task's
                    # watch reports the exit.
                    if process.wait(FORWARDER_EXIT_WAIT) is not None:
                        break
                    raise StartFailure(f"ResourceInitializationError: {error}") from error
        self._publish()

    def _volumes(self) -> dict[str, Path]:
        """Host folders for the task's volumes: an EFS file system is one folder shared by
        every task that mounts it; any other volume is the task's own."""
        folders = {}
        for volume in self.definition.volumes or []:
            efs = volume.get("efsVolumeConfiguration")
            if efs:
                root = (efs.get("rootDirectory") or "/").strip("/")
                folder = self.env.efs_dir / efs.get("fileSystemId", "efs") / root
            else:
                folder = self.folder / "volumes" / volume["name"]
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o777)  # no POSIX users are modelled: any container user may write
            folders[volume["name"]] = folder
        return folders

    def _watch(self) -> None:
        if any(c.essential and c.status == "STOPPED" for c in self.containers):
            # an essential container "exited" at start (a fault knob)
            self._stop_request = self._stop_request or (
                "Essential container in task exited", "EssentialContainerExited")
            return
        for _ in range(MAX_WATCH_TICKS):
            if self._stop.wait(WATCH_INTERVAL):
                return
            changed = False
            for container in self.containers:
                if container.process is None or container.status == "STOPPED":
                    continue
                code = container.process.exit_code
                if code is None:
                    continue
                container.status, container.exit_code, changed = "STOPPED", code, True
                if container.essential:
                    self._stop_request = self._stop_request or (
                        "Essential container in task exited", "EssentialContainerExited")
                    self._publish()
                    return
            if changed:
                self._publish()

    def _tear_down(self) -> None:
        records.update(self.task, desired_status="STOPPED", last_status="STOPPING",
                       stopping_at=records.now())
        self._publish()
        for container in self.containers:
            if container.monitor:
                container.monitor.stop()
        for forwarder in self.forwarders.values():
            forwarder.stop()
        for container in reversed(self.containers):
            if container.process is None:
                continue
            timeout = timescale.scaled(float(container.definition.get("stopTimeout") or 30),
                                       floor=0.5)
            code = container.process.stop(timeout=timeout)
            if container.exit_code is None:
                container.exit_code = code
            container.status = "STOPPED"
        for container in self.containers:
            container.status = "STOPPED"
        if self.network:
            self.network.stop()
        records.update(self.task, last_status="DEPROVISIONING",
                       execution_stopped_at=records.now())
        self._publish()
        shutil.rmtree(self.folder, ignore_errors=True)
        reason, code = self._stop_request or ("Task stopped", "UserInitiated")
        records.update(self.task, last_status="STOPPED", stopped_at=records.now(),
                       stopped_reason=reason, stop_code=code)
        self._publish()
        self.stopped.set()
        if self.on_stopped:
            self.on_stopped(self)

    # --- what DescribeTasks shows ------------------------------------------------------------

    def _attributes(self) -> list[dict[str, str]]:
        attributes = [{"name": "sandbox.task-ip", "value": self.ip}]
        if self.note:
            attributes.append({"name": "sandbox.platform", "value": self.note})
        return attributes

    def _publish(self) -> None:
        interfaces = [{"attachmentId": a.get("id"), "privateIpv4Address": self.ip}
                      for a in self.task.attachments or []]
        shown = []
        for container in self.containers:
            entry: dict[str, Any] = {
                "containerArn": f"{self.arn.replace(':task/', ':container/')}/"
                                f"{container.name}",
                "taskArn": self.arn, "name": container.name,
                "image": container.definition.get("image"),
                "lastStatus": container.status if container.runs else (
                    "STOPPED" if self.task.last_status == "STOPPED" else "PENDING"),
                "networkInterfaces": interfaces,
                "healthStatus": container.health,
                "cpu": str(container.definition.get("cpu", 0)),
            }
            if container.digest:
                entry["imageDigest"] = container.digest
            if container.process and container.process.pid:
                entry["runtimeId"] = f"{self.id}-{container.name}"
            if container.exit_code is not None:
                entry["exitCode"] = container.exit_code
            if container.reason:
                entry["reason"] = container.reason
            if container.definition.get("memory"):
                entry["memory"] = str(container.definition["memory"])
            shown.append(entry)
        records.update(self.task, containers=shown, health_status=self.health)
        with records.LOCK:
            for attachment in self.task.attachments or []:
                attachment["status"] = {"PROVISIONING": "PRECREATED", "STOPPED": "DELETED",
                                        "DEPROVISIONING": "DELETED"}.get(
                    self.task.last_status, "ATTACHED")


def _overridden(definition: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """The container definition with RunTask's containerOverrides applied."""
    if not override:
        return definition
    merged = dict(definition)
    if override.get("command"):
        merged["command"] = override["command"]
    if override.get("environment"):
        names = {e["name"] for e in override["environment"]}
        merged["environment"] = [*(e for e in definition.get("environment") or []
                                   if e["name"] not in names), *override["environment"]]
    return merged


def _platform_note(task_definition: Any) -> str | None:
    """What the task ran instead of the platform its definition asks for, if anything."""
    wanted = ARCHITECTURES.get(((task_definition.runtime_platform or {}).get(
        "cpuArchitecture") or "").upper())
    host = host_platform()
    if wanted and wanted != host:
        return (f"the task definition asks for {wanted}; the sandbox ran the image's "
                f"{host} variant (this machine runs {host} only, without emulation)")
    return None


def _discard(_stream: str, _line: str) -> None:
    """A container without awslogs: its output goes nowhere, as with the `none` driver."""
