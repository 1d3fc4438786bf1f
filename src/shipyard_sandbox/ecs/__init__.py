"""The sandbox's ECS: moto's ECS API, with tasks that really run and services that really roll.

`start(...)` patches moto's ECS backend in-process (`bridge`) and starts the service scheduler;
the returned `EcsSandbox.stop()` stops every task and thread. Everything answers through ECS's
own API shapes (RunTask, StopTask, DescribeTasks, ListTasks, CreateService, UpdateService,
DeleteService, DescribeServices), so a client cannot tell it from ECS but for speed.

What it models:
- tasks (`tasks`): each container whose image is in the sandbox registry (named by the
  registry's host or the account's ECR host) runs as a real process (`runtime`): the tag
  pinned to a digest at launch (`imageDigest`), the host platform's variant; the task's
  containers share one network namespace (awsvpc); `environment`, `secrets` (Secrets Manager,
  JSON keys included, and SSM parameters, `secrets`), `dependsOn` (START, COMPLETE, SUCCESS,
  HEALTHY), `essential`, `healthCheck`, `stopTimeout`, `mountPoints` (an EFS file system is
  a folder shared by the tasks that mount it); lastStatus PROVISIONING -> PENDING -> RUNNING
  -> (DEACTIVATING) -> STOPPING -> DEPROVISIONING -> STOPPED with stopCode and stoppedReason
  ("Essential container in task exited", "CannotPullContainerError: ...",
  "CannotStartContainerError: ...", "ResourceInitializationError: ...", "Task failed
  container health checks", "Task failed ELB health checks in (target-group ...)"), container
  exitCode/lastStatus/healthStatus/reason and the task's healthStatus;
- container output to CloudWatch Logs (`logs`) in ECS's stream `PREFIX/CONTAINER/TASK-ID`;
- the task's ENI reports an address from 127.100.0.0/16 (`TargetDirectory`), never a private
  range; each container port is reachable through a forwarder socket registered there;
- services with the ECS deployment controller (`scheduler`): deployments, rolling updates
  within minimumHealthyPercent/maximumPercent, target-group registration and draining, the
  deployment circuit breaker with rollback, ECS's events; deploymentConfiguration and
  healthCheckGracePeriodSeconds kept where moto drops them;
- services with the CODE_DEPLOY or EXTERNAL controller run task sets (`tasksets`): the
  initial PRIMARY one of a CODE_DEPLOY service, CreateTaskSet/UpdateTaskSet/DeleteTaskSet,
  each kept at its scale and registered with its own target groups; what CodeDeploy's
  deployments do with them is CodeDeploy's (`EcsSandbox.task_set_health` is its Install wait);
- ListTasks' `serviceName` filter and its default `desiredStatus` RUNNING;
- fault knobs (`faults`): an SSM parameter under /shipyard-sandbox/faults/ecs/ makes new
  containers of an image exit at start or fail their health check, the image unchanged.

What it does not model (honestly reported where it shows):
- a container whose image is in another registry (a public sidecar) is not run: its
  `lastStatus` stays PENDING (STOPPED with the task), its `reason` says why, and it satisfies
  every `dependsOn` on it; a task none of whose containers can run fails to start;
- no emulation: an ARM64 task definition runs the image's host variant and says so in the
  task attribute `sandbox.platform`; an image without a host variant fails as ECS fails a
  platform mismatch (CannotPullContainerError); a single-platform image is not checked
  against the definition's cpuArchitecture (AWS would fail it with "exec format error");
- no CPU or memory limits, placement, capacity providers, container instances or EC2 launch
  type (every task runs as on Fargate), no task IAM role credentials, no ECS Exec, no service
  discovery; a target group that serves no listener is not checked by the load balancer
  (`unused`), so its tasks count as healthy by their container health alone;
- no awsvpc security groups or public IPs; the only network is the task's loopback;
- EFS access points' POSIX users are not modelled (the folder is writable by anyone);
- deployments that finish are dropped from `deployments[]` at once (ECS keeps INACTIVE ones
  a while); the circuit breaker counts failures without ECS's two stages; launch back-off is
  exponential from 10 s to 15 min (AWS time, scaled).

Every AWS wait (health-check intervals, stop timeouts, deregistration delay, back-off) is
divided by the sandbox's time scale (`timescale`), but for what bounds a real process, which
runs no faster in the sandbox: a container health check's timeout is the configured one, and
a service's health-check grace period (when it has one) lasts at least 5 s.
"""

from __future__ import annotations

from pathlib import Path

from shipyard_sandbox.ecs.bridge import EcsSandbox, install
from shipyard_sandbox.ecs.records import Environment
from shipyard_sandbox.ecs.scheduler import TargetHealth
from shipyard_sandbox.runtime.images import ImageStore
from shipyard_sandbox.targets import TargetDirectory


def start(state_dir: Path, *, account_id: str, region: str, registry_url: str,
          registry_auth: tuple[str, str], storage_dir: Path, registry_hosts: set[str],
          targets: TargetDirectory, target_health: TargetHealth | None = None) -> EcsSandbox:
    """Run ECS's tasks and services of moto's backend for `account_id`/`region`."""
    images = ImageStore(registry_url, state_dir / "images", auth=registry_auth,
                        storage_dir=storage_dir)
    env = Environment(account_id, region, images, targets, state_dir,
                      frozenset(registry_hosts))
    sandbox = EcsSandbox(env)
    sandbox.scheduler.target_health = target_health
    install(sandbox)
    return sandbox.start()


__all__ = ["EcsSandbox", "start"]
