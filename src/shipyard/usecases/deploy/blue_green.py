"""A blue/green deployment (deployment controller CODE_DEPLOY): start it, follow it, find what
to roll back to.

`plan_blue_green` does every read and check a deploy needs before its one write (the group
exists, is ECS blue/green and deploys this service; the deployment config exists for ECS; no
deployment of the group is still running) and renders the AppSpec `shipyard appspec` would
generate, with the registered task definition in it. `start_blue_green` then creates the
deployment from that AppSpec, given as content with its sha256.

`follow_blue_green` watches the deployment to its end (`watch` + `blue_green_look`: each
lifecycle event, the traffic weights as they shift). At Ready it continues the deployment
only when told to (`approve_traffic`); otherwise it says once how to. On the timeout or
Ctrl-C it stops the deployment with rollback (unless `leave_running`) and keeps following
it, for at most STOP_WAIT seconds, so that the verdict says what really happened; Ctrl-C is
raised again afterwards as `DeployInterrupted`, which carries that verdict. A deployment that
failed or was stopped is a failure with CodeDeploy's reason and the failed hook's own message.

`previous_revision` finds what `shipyard rollback` redeploys: the task definition of the last
successful deployment before the one serving now, read from the deployments' AppSpecs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from shipyard.config import EnvironmentSettings
from shipyard.domain.appspec import build_appspec, parse_appspec, render_appspec, validate_appspec
from shipyard.domain.deployment import Verdict
from shipyard.errors import ConfigError, ConflictError, NotFoundError, UsageError
from shipyard.usecases.deploy.watch import Show, blue_green_look, watch

# Statuses of a deployment that has not ended (CodeDeploy's DeploymentStatus).
NOT_ENDED = ("Created", "Queued", "InProgress", "Baking", "Ready")
ENDED = ("Succeeded", "Failed", "Stopped")
# How long to follow a deployment after StopDeployment: long enough for CodeDeploy to move
# traffic back and delete the replacement task set (seconds, on the caller's clock).
STOP_WAIT = 300.0
PREDEFINED_CONFIGS = ("CodeDeployDefault.ECSAllAtOnce",
                      "CodeDeployDefault.ECSCanary10Percent5Minutes",
                      "CodeDeployDefault.ECSLinear10PercentEvery1Minutes")


class CodeDeployApi(Protocol):
    """The CodeDeploy calls a blue/green deploy makes (shipyard.adapters.codedeploy)."""

    def deployment(self, deployment_id: str) -> dict[str, Any]: ...
    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None: ...
    def deployment_group(self, application: str, group: str) -> dict[str, Any] | None: ...
    def deployment_config(self, name: str) -> dict[str, Any] | None: ...
    def deployment_ids(self, application: str, group: str, statuses: list[str],
                       limit: int = 50) -> list[str]: ...
    def deployments(self, deployment_ids: Sequence[str]) -> list[dict[str, Any]]: ...
    def create_deployment(self, application: str, group: str, appspec: str, sha256: str,
                          deployment_config: str | None, description: str) -> str: ...
    def continue_deployment(self, deployment_id: str, wait_type: str = "READY_WAIT") -> bool: ...
    def stop_deployment(self, deployment_id: str, roll_back: bool = True) -> str | None: ...


@dataclass(frozen=True)
class BlueGreenPlan:
    """What `start_blue_green` will create, every check passed."""

    application: str
    group: str
    deployment_config: str | None  # None: the group's own, `group_config`
    group_config: str
    appspec_text: str
    appspec_sha256: str

    @property
    def config_shown(self) -> str:
        return self.deployment_config or f"{self.group_config} (the group's)"


@dataclass(frozen=True)
class BlueGreenStart:
    deployment_id: str
    appspec_text: str
    appspec_sha256: str
    deployment_config: str = ""  # as shown: the name, or "NAME (the group's)"


class DeployInterrupted(KeyboardInterrupt):
    """Ctrl-C during a blue/green deploy, raised after the deployment was stopped (or left
    running); `verdict` says how it ended."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


def plan_blue_green(codedeploy: CodeDeployApi, settings: EnvironmentSettings,
                    task_definition_arn: str, deployment_config: str | None) -> BlueGreenPlan:
    """Every read and check before CreateDeployment, and the AppSpec; nothing is written."""
    application, group_name = settings.codedeploy_application, settings.codedeploy_group
    if not application or not group_name:
        raise ConfigError(f"service {settings.service} deploys blue/green but "
                          "codedeploy_application and codedeploy_group are not both set; set "
                          "them in its [environments.NAME] in shipyard.toml")
    document = build_appspec(settings, task_definition_arn)
    problems = validate_appspec(document)
    if problems:
        raise ConfigError(f"the AppSpec for service {settings.service} is invalid: "
                          f"{problems[0]} ({len(problems)} in all; `shipyard appspec ENV` lists "
                          "them); fix its [environments.NAME] in shipyard.toml")
    group = codedeploy.deployment_group(application, group_name)
    if group is None:
        raise NotFoundError(f"CodeDeploy deployment group {group_name} of application "
                            f"{application} does not exist; create it (AWS::CodeDeploy::"
                            "DeploymentGroup) or fix codedeploy_application / codedeploy_group "
                            "in shipyard.toml")
    _check_group(group, settings)
    name, config_error = (deployment_config, UsageError) if deployment_config else (
        settings.deployment_config or None, ConfigError)
    if name is not None:
        _check_config(codedeploy, name, config_error)
    running = codedeploy.deployment_ids(application, group_name, list(NOT_ENDED), 5)
    if running:
        status = codedeploy.deployment(running[0]).get("status", "in progress")
        raise ConflictError(f"deployment {running[0]} of {application}/{group_name} is still "
                            f"{status}; wait for it to end (shipyard status), or stop it and roll "
                            "back (shipyard rollback), then deploy again")
    text = render_appspec(document, "yaml")
    return BlueGreenPlan(application, group_name, name, str(group.get("deploymentConfigName", "")),
                         text, hashlib.sha256(text.encode()).hexdigest())


def start_blue_green(codedeploy: CodeDeployApi, settings: EnvironmentSettings,
                     task_definition_arn: str, deployment_config: str | None,
                     description: str) -> BlueGreenStart:
    """Check (`plan_blue_green`), then CreateDeployment with the AppSpec as content."""
    plan = plan_blue_green(codedeploy, settings, task_definition_arn, deployment_config)
    deployment_id = codedeploy.create_deployment(plan.application, plan.group,
                                                 plan.appspec_text, plan.appspec_sha256,
                                                 plan.deployment_config, description)
    return BlueGreenStart(deployment_id, plan.appspec_text, plan.appspec_sha256,
                          plan.config_shown)


def _check_group(group: dict[str, Any], settings: EnvironmentSettings) -> None:
    where = f"deployment group {group.get('deploymentGroupName', settings.codedeploy_group)}"
    style = group.get("deploymentStyle") or {}
    if group.get("computePlatform", "ECS") != "ECS" or style.get(
            "deploymentType", "BLUE_GREEN") != "BLUE_GREEN":
        raise ConfigError(f"{where} is not an ECS blue/green group (compute platform "
                          f"{group.get('computePlatform', '?')}, deployment type "
                          f"{style.get('deploymentType', '?')}); name an ECS group in "
                          "codedeploy_group in shipyard.toml")
    services = [(str(s.get("clusterName", "")).rsplit("/", 1)[-1], s.get("serviceName"))
                for s in group.get("ecsServices") or []]
    if services and (settings.cluster.rsplit("/", 1)[-1], settings.service) not in services:
        deployed = ", ".join(f"{service} in {cluster}" for cluster, service in services)
        raise ConfigError(f"{where} deploys {deployed}, not service {settings.service} in "
                          f"{settings.cluster}; fix codedeploy_group or cluster/service in "
                          "shipyard.toml")


def _check_config(codedeploy: CodeDeployApi, name: str, error: type[Exception]) -> None:
    where = "--deployment-config" if error is UsageError else "deployment_config"
    config = codedeploy.deployment_config(name)
    if config is None:
        raise error(f"{where} {name}: CodeDeploy has no such deployment config; use one of "
                    f"{', '.join(PREDEFINED_CONFIGS)} (or another predefined ECS config), or "
                    "create it first")
    if config.get("computePlatform", "ECS") != "ECS":
        raise error(f"{where} {name} is a config for {config.get('computePlatform')}, not "
                    "ECS; use an ECS config such as CodeDeployDefault.ECSAllAtOnce")


# --- following ------------------------------------------------------------------------------


@dataclass
class _Seen:
    """The reader a look uses: it remembers the last answers, and spares a call a look.

    A look needs the deployment (its status: the verdict) and its ECS target (events,
    weights). While the deployment is InProgress, the target is read first, and the
    deployment again only when the target's status or an event's status changed since it was
    last read, or REFRESH seconds passed: a deployment ends, stops or waits at Ready as its
    target does, so most looks cost one call instead of two.
    """

    codedeploy: CodeDeployApi
    clock: Callable[[], float]
    info: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] | None = None
    _read_at: float = -1e9
    _read_with: Any = None  # the target's signature when the deployment was read
    _fresh: bool = False  # `target` was read for the look under way

    REFRESH = 5.0  # seconds: the deployment is read at least this often all the same

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        if self.info.get("status") == "InProgress" and self.target is not None:
            self.ecs_target(deployment_id)
            self._fresh = True
            if _signature(self.target) == self._read_with and \
                    self.clock() - self._read_at < self.REFRESH:
                return self.info
        self.info = self.codedeploy.deployment(deployment_id)
        self._read_at = self.clock()
        self._read_with = _signature(self.target) if self._fresh else None
        return self.info

    def ecs_target(self, deployment_id: str) -> dict[str, Any] | None:
        if self._fresh:  # read already, for this look
            self._fresh = False
            return self.target
        self.target = self.codedeploy.ecs_target(deployment_id)
        if self._read_with is None:
            self._read_with = _signature(self.target)
        return self.target

    @property
    def ended(self) -> bool:
        return self.info.get("status") in ENDED


def _signature(target: dict[str, Any] | None) -> Any:
    """What of an ECS target moves with its deployment's status: its own, its events'."""
    if target is None:
        return None
    return (target.get("status"), tuple((e.get("lifecycleEventName"), e.get("status"))
                                        for e in target.get("lifecycleEvents", [])))


@dataclass
class _Follow:
    """One deployment being followed: its look, and what was done at Ready."""

    codedeploy: CodeDeployApi
    deployment_id: str
    approve_traffic: bool
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    report: Callable[[str], None]
    show: Show | None = None
    seen: _Seen = field(init=False)
    continued: bool = False
    told: bool = False
    stopping: bool = False
    # a deployment asked to stop before the follow began: a look may still see it at Ready
    stopped_before: bool = False

    def __post_init__(self) -> None:
        self.seen = _Seen(self.codedeploy, self.clock)
        self._look = blue_green_look(self.seen, self.deployment_id, self.show)

    def look(self) -> tuple[Verdict, list[str]]:
        verdict, news = self._look()
        if self.seen.info.get("status") == "Ready" and not self.continued and not (
                self.stopping or self.stopped_before):
            news += self._at_ready()
        if verdict.state == "failed":
            verdict, more = _explained(verdict, self.seen.target)
            news += more
        return verdict, news

    def _at_ready(self) -> list[str]:
        ident = self.deployment_id
        if self.approve_traffic:
            # refused when it left Ready since the look (stopped, or approved by someone
            # else): the next look tells what it became
            if not self.codedeploy.continue_deployment(ident, "READY_WAIT"):
                return []
            self.continued = True
            return [f"traffic approved (--approve-traffic): deployment {ident} continues to "
                    "shift production traffic"]
        if self.told:
            return []
        self.told = True
        return [f"deployment {ident} is ready and waits for approval before production traffic "
                f"shifts; approve it with `aws deploy continue-deployment --deployment-id "
                f"{ident} --deployment-wait-type READY_WAIT` (next time: --approve-traffic), or "
                "stop it with `shipyard rollback ENV`"]

    def watch(self, timeout: float) -> Verdict:
        # an adapter that counts its calls (the real one does) holds the budget in calls
        calls = None
        if isinstance(getattr(self.codedeploy, "calls", None), int):
            def calls() -> int:
                return int(getattr(self.codedeploy, "calls", 0))
        return watch(self.look, timeout=timeout, clock=self.clock, sleep=self.sleep,
                     report=self.report, calls=calls)


def follow_blue_green(codedeploy: CodeDeployApi, deployment_id: str, *, timeout: float,
                      approve_traffic: bool, leave_running: bool, clock: Callable[[], float],
                      sleep: Callable[[float], None], report: Callable[[str], None],
                      show: Show | None = None, stopping: bool = False) -> Verdict:
    """Follow deployment `deployment_id` to its verdict; see the module's docstring. `show`
    gets the task sets and weights as they change (the live view). `stopping`: a deployment
    we asked to stop, which a look may still see at Ready: neither approved nor announced."""
    follow = _Follow(codedeploy, deployment_id, approve_traffic, clock, sleep, report, show)
    follow.stopped_before = stopping
    try:
        verdict = follow.watch(timeout)
        if verdict.state == "failed" and not follow.seen.ended:  # the timeout
            verdict = _give_up(follow, verdict.reason, leave_running)
        elif verdict.state == "failed":
            verdict = _with_rollback(codedeploy, verdict, follow.seen.info, clock, sleep,
                                     report, STOP_WAIT)
        return verdict
    except KeyboardInterrupt:
        if follow.stopping:  # a second Ctrl-C while stopping: leave it to CodeDeploy
            raise DeployInterrupted(Verdict("failed", f"interrupted again while deployment "
                                            f"{deployment_id} was stopping with rollback; "
                                            "see how it ended with shipyard status")) from None
        why = "interrupted (Ctrl-C)"
        try:
            verdict = _give_up(follow, why, leave_running)
        except KeyboardInterrupt:
            verdict = Verdict("failed", f"{why}; StopDeployment was sent for {deployment_id} "
                                        "but not followed; see how it ended with shipyard status")
        report(verdict.reason)
        raise DeployInterrupted(verdict) from None


def _give_up(follow: _Follow, why: str, leave_running: bool) -> Verdict:
    """After the timeout or Ctrl-C: leave the deployment running, or stop it with rollback
    and follow it (bounded) to how it really ended."""
    ident = follow.deployment_id
    if leave_running:
        return Verdict("failed", f"{why}; deployment {ident} left running (--leave-running): "
                                 "follow it with shipyard status, stop it with shipyard rollback")
    follow.stopping = True
    answer = follow.codedeploy.stop_deployment(ident, True)
    follow.report(f"{why}: stopping deployment {ident} with rollback" if answer is not None else
                  f"{why}: CodeDeploy says deployment {ident} has already completed")
    after = follow.watch(STOP_WAIT)
    if not follow.seen.ended:
        return Verdict("failed", f"{why}; StopDeployment was sent, but deployment {ident} had "
                                 f"not ended {STOP_WAIT:g}s later ({after.reason}); see how it "
                                 "ends with shipyard status")
    if after.state == "succeeded":  # it ended before the stop reached it
        return replace(after, reason=f"{after.reason} ({why}, but it had already ended)")
    after = _with_rollback(follow.codedeploy, after, follow.seen.info, follow.clock,
                           follow.sleep, follow.report, STOP_WAIT)
    return replace(after, reason=f"{why}; {after.reason}")


def _explained(verdict: Verdict, target: dict[str, Any] | None) -> tuple[Verdict, list[str]]:
    """The verdict with the failed lifecycle event's own message (its diagnostics), and the
    hook's last log lines when CodeDeploy has them."""
    for event in (target or {}).get("lifecycleEvents", []):
        diagnostics = event.get("diagnostics") or {}
        if event.get("status") != "Failed" or not diagnostics:
            continue
        message = str(diagnostics.get("message") or "")
        code = diagnostics.get("errorCode")
        lines = [f"  {line}" for line in str(diagnostics.get("logTail") or "").splitlines()]
        if message and message not in verdict.reason:
            detail = f"{event.get('lifecycleEventName')} failed: {message}" + (
                f" ({code})" if code else "")
            return replace(verdict, reason=f"{verdict.reason}; {detail}"), lines
        return verdict, lines
    return verdict, []


def _with_rollback(codedeploy: CodeDeployApi, verdict: Verdict, info: dict[str, Any],
                   clock: Callable[[], float], sleep: Callable[[float], None],
                   report: Callable[[str], None], budget: float) -> Verdict:
    """A failed deployment that CodeDeploy rolls back with a deployment of its own
    (rollbackInfo.rollbackDeploymentId): that one followed too, so "rolled back" is true."""
    rollback_id = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
    if not rollback_id:
        return verdict
    report(f"CodeDeploy rolls back with deployment {rollback_id}")
    after = _Follow(codedeploy, str(rollback_id), False, clock, sleep, report).watch(budget)
    if after.state == "succeeded":
        return replace(verdict, reason=f"{verdict.reason}; rollback deployment {rollback_id} "
                                       "succeeded", rolled_back=True)
    return replace(verdict, reason=f"{verdict.reason}; rollback deployment {rollback_id} did "
                                   f"not succeed: {after.reason}", rolled_back=False)


# --- what to roll back to -------------------------------------------------------------------


@dataclass(frozen=True)
class PreviousRevision:
    """The last successful deployment before the current one, and what it deployed."""

    deployment_id: str
    task_definition: str
    appspec_text: str
    current_deployment_id: str  # the newest successful deployment: what serves now
    current_task_definition: str


def previous_revision(codedeploy: CodeDeployApi, settings: EnvironmentSettings,
                      limit: int = 50) -> PreviousRevision | None:
    """The newest successful deployment of the group that deployed another task definition
    than the newest successful one (the current); None when there is none among the last
    `limit`. Deployments whose AppSpec is not content (an S3 revision) are passed over."""
    ids = codedeploy.deployment_ids(settings.codedeploy_application, settings.codedeploy_group,
                                    ["Succeeded"], limit)
    infos = sorted(codedeploy.deployments(ids), key=lambda i: str(i.get("createTime", "")),
                   reverse=True)
    found = [(info, text, arn) for info in infos
             for text, arn in [appspec_of(info.get("revision") or {})] if arn]
    if not found:
        return None
    current, _, current_arn = found[0]
    for info, text, arn in found[1:]:
        if arn != current_arn:
            return PreviousRevision(str(info.get("deploymentId")), arn, text,
                                    str(current.get("deploymentId")), current_arn)
    return None


def appspec_of(revision: dict[str, Any]) -> tuple[str, str]:
    """(the AppSpec's text, its task definition) of a revision given as content; ("", "")
    when the revision is elsewhere (S3) or names no task definition."""
    text = str((revision.get("appSpecContent") or {}).get("content") or
               (revision.get("string") or {}).get("content") or "")
    document: Any = parse_appspec(text)[0] if text else None
    try:
        properties = next(iter(document["Resources"][0].values()))["Properties"]
        return text, str(properties["TaskDefinition"])
    except (KeyError, IndexError, TypeError, StopIteration, AttributeError):
        return "", ""
