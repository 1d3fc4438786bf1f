"""`deploy` after its plan: which writes happen, in which order, and what the verdict says;
against a fake ECS on a fake clock (the plan itself is read from the sandbox in the
integration tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import EnvironmentSettings, load_config
from shipyard.errors import ApprovalError, DeploymentError, UsageError, VerificationError
from shipyard.usecases.context import Context
from shipyard.usecases.deploy import deploy as module
from shipyard.usecases.deploy.deploy import DeployOptions, deploy, enforce
from shipyard.usecases.deploy.plan import DeployPlan
from shipyard.usecases.render import RenderResult
from shipyard.usecases.target import Target
from shipyard.usecases.verify import Check, VerifyResult

OLD, NEW = "arn:aws:ecs:r:1:task-definition/api:1", "arn:aws:ecs:r:1:task-definition/api:2"


class FakeEcs:
    """A service whose deployments complete (or fail) `after` seconds after UpdateService."""

    def __init__(self, clock, after: float = 3.0, outcome: str = "COMPLETED") -> None:
        self.clock, self.after, self.outcome = clock, after, outcome
        self.writes: list[tuple[str, str]] = []
        self.deployments: list[dict] = []
        self._started = 0.0

    def register_task_definition(self, definition: dict) -> str:
        self.writes.append(("register", definition["family"]))
        return NEW

    def update_service(self, cluster, service, task_definition, force_new_deployment=False,
                       desired_count=None):
        self.writes.append(("update", task_definition))
        self._started = self.clock()
        for deployment in self.deployments:
            deployment["status"] = "ACTIVE"
        ours = {"id": f"ecs-svc/{len(self.writes)}", "status": "PRIMARY",
                "taskDefinition": task_definition, "rolloutState": "IN_PROGRESS",
                "runningCount": 0, "desiredCount": 2}
        self.deployments.insert(0, ours)
        return {"deployments": [dict(d) for d in self.deployments]}

    def service(self, cluster, name):
        primary = self.deployments[0]
        if self.clock() - self._started >= self.after and \
                primary["rolloutState"] == "IN_PROGRESS":
            failed = self.outcome == "FAILED" and primary["taskDefinition"] == NEW
            primary["rolloutState"] = "FAILED" if failed else self.outcome
            primary["runningCount"] = 2 if primary["rolloutState"] == "COMPLETED" else 0
            if failed:
                primary["rolloutStateReason"] = "circuit breaker: tasks failed to start."
        return {"deployments": [dict(d) for d in self.deployments], "events": []}

    def stopped_tasks(self, cluster, started_by, limit=10):
        return [{"taskArn": "arn:task/c/t1", "stoppedReason": "Essential container in task "
                 "exited", "taskDefinitionArn": NEW,
                 "containers": [{"name": "api", "exitCode": 3}]}]

    def task_definition(self, arn):
        return {"containerDefinitions": [{"name": "api"}]}


class FakeLogs:
    def last_lines(self, group, stream, count=5):
        return []


class Observer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, text): self.lines.append(f"== {text}")
    def news(self, line): self.lines.append(line)
    def board(self, snapshot): pass
    def warn(self, line): self.lines.append(f"warning: {line}")


def _plan(settings: EnvironmentSettings, *, failed_check: bool = False, diff: str = "+x",
          desired: int | None = None) -> DeployPlan:
    target = Target("r", "1", "127.0.0.1:5000", "api")
    render = RenderResult("staging", Path("td.json"), "127.0.0.1:5000/api@sha256:" + "a" * 64,
                          {"family": "api"}, target, "1.2.0")
    checks = (Check("secret x", "fail" if failed_check else "ok", "missing"),)
    return DeployPlan("staging", settings, "rolling", VerifyResult(render, checks),
                      {"events": [], "deployments": []}, OLD, diff, "1.2.0", desired)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch):
    """The config, a context on a fake clock with a fake ECS, and the reports announced."""
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731 - a clock the sleep moves

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ecs = FakeEcs(clock)
    ctx = Context(env={}, region="r", clock=clock, sleep=sleep, ecs=ecs, logs=FakeLogs())
    announced: list = []
    monkeypatch.setattr("shipyard.usecases.deploy.notify.announce",
                        lambda report, config, ctx, warn: announced.append(report))
    config = load_config(Path("GamePulse"))
    settings = EnvironmentSettings(cluster="c", service="api", task_definition=Path("td"))
    return config, ctx, ecs, announced, settings


def _deploy(monkeypatch, world, plan: DeployPlan, **options):
    config, ctx, *_ = world
    monkeypatch.setattr(module, "plan_deploy", lambda *args, **kwargs: plan)
    observer = Observer()
    return deploy(DeployOptions("staging", **options), config, ctx, observer), observer


def test_a_rolling_deploy_registers_updates_and_follows_to_success(monkeypatch, world) -> None:
    *_, ecs, announced, settings = world
    outcome, _observer = _deploy(monkeypatch, world, _plan(settings))
    assert ecs.writes == [("register", "api"), ("update", NEW)]
    assert outcome.report.outcome == "succeeded" and not outcome.failed
    assert outcome.report.deployment_id == "ecs-svc/2"
    assert [r.outcome for r in announced] == ["started", "succeeded"]
    enforce(outcome)  # nothing to raise


def test_a_failed_check_writes_nothing(monkeypatch, world) -> None:
    *_, ecs, announced, settings = world
    outcome, _ = _deploy(monkeypatch, world, _plan(settings, failed_check=True))
    assert outcome.action == "refused" and ecs.writes == [] and announced == []
    with pytest.raises(VerificationError):
        enforce(outcome)


@pytest.mark.parametrize("plan_options, options, action", [
    ({}, {"dry_run": True}, "dry-run"),
    ({"diff": ""}, {}, "unchanged"),
])
def test_a_dry_run_and_an_unchanged_definition_write_nothing(monkeypatch, world, plan_options,
                                                             options, action) -> None:
    *_, ecs, announced, settings = world
    outcome, _ = _deploy(monkeypatch, world, _plan(settings, **plan_options), **options)
    assert outcome.action == action and ecs.writes == [] and announced == []


def test_the_diff_is_shown_before_the_approval_is_asked(monkeypatch, world) -> None:
    *_, ecs, _, settings = world
    gated = settings.model_copy(update={"require_approval": True})
    asked: list[list[str]] = []
    observer_lines: list[str] = []

    def ask(question: str) -> bool:
        asked.append(list(observer_lines))
        return False

    plan = _plan(gated, diff="--- running\n+++ rendered\n-  image: old\n+  image: new\n")
    monkeypatch.setattr(module, "plan_deploy", lambda *args, **kwargs: plan)
    observer = Observer()
    observer.lines = observer_lines
    with pytest.raises(ApprovalError):
        deploy(DeployOptions("staging", interactive=True, ask=ask), world[0], world[1],
               observer)
    assert asked and asked[0][-5:] == [f"diff of {OLD} and the rendered one:", "--- running",
                                       "+++ rendered", "-  image: old", "+  image: new"]
    assert ecs.writes == []


def test_approval_refused_writes_nothing(monkeypatch, world) -> None:
    *_, ecs, _, settings = world
    gated = settings.model_copy(update={"require_approval": True})
    with pytest.raises(ApprovalError):
        _deploy(monkeypatch, world, _plan(gated), interactive=True, ask=lambda q: False)
    assert ecs.writes == []


def test_a_circuit_breaker_failure_is_a_failure_with_the_stopped_tasks(monkeypatch,
                                                                       world) -> None:
    *_, ecs, announced, settings = world
    ecs.outcome = "FAILED"
    outcome, _ = _deploy(monkeypatch, world, _plan(settings))
    assert outcome.failed and "circuit breaker" in outcome.report.reason
    assert "task t1 stopped: Essential container in task exited" in outcome.explanation
    assert "  container api: exit code 3" in outcome.explanation
    assert announced[-1].outcome == "failed"
    with pytest.raises(DeploymentError, match="deploy staging failed"):
        enforce(outcome)


def test_the_timeout_rolls_back_to_the_running_definition_when_asked(monkeypatch,
                                                                     world) -> None:
    *_, ecs, _, settings = world
    ecs.after = 50.0
    outcome, _observer = _deploy(monkeypatch, world, _plan(settings), timeout=10,
                                rollback_on_timeout=True)
    assert ecs.writes == [("register", "api"), ("update", NEW), ("update", OLD)]
    assert outcome.failed and outcome.report.rolled_back
    assert outcome.report.reason.startswith("timed out after 10s")


def test_the_timeout_leaves_the_deployment_without_rollback_on_timeout(monkeypatch,
                                                                       world) -> None:
    *_, ecs, _, settings = world
    ecs.after = 50.0
    outcome, _ = _deploy(monkeypatch, world, _plan(settings), timeout=10)
    assert ecs.writes == [("register", "api"), ("update", NEW)]
    assert outcome.failed and not outcome.report.rolled_back


def test_no_wait_returns_once_started(monkeypatch, world) -> None:
    *_, _ecs, announced, settings = world
    outcome, _ = _deploy(monkeypatch, world, _plan(settings), wait=False)
    assert outcome.action == "started" and [r.outcome for r in announced] == ["started"]


def _interrupted_once(ctx) -> None:
    """Ctrl-C during the first pause between looks; later pauses pass as before."""
    sleep, pressed = ctx.sleep, []

    def interrupting(seconds: float) -> None:
        if not pressed:
            pressed.append(seconds)
            raise KeyboardInterrupt
        sleep(seconds)

    ctx.sleep = interrupting


def test_ctrl_c_during_a_rolling_deploy_points_the_service_back_then_ends(monkeypatch,
                                                                          world) -> None:
    _, ctx, ecs, announced, settings = world
    ecs.after = 50.0  # still rolling out when Ctrl-C comes
    _interrupted_once(ctx)
    with pytest.raises(KeyboardInterrupt):
        _deploy(monkeypatch, world, _plan(settings))
    assert ecs.writes == [("register", "api"), ("update", NEW), ("update", OLD)]
    assert announced[-1].outcome == "failed" and announced[-1].rolled_back
    assert "interrupted (Ctrl-C)" in announced[-1].reason


def test_ctrl_c_with_leave_running_leaves_the_deployment_alone(monkeypatch, world) -> None:
    _, ctx, ecs, announced, settings = world
    ecs.after = 50.0
    _interrupted_once(ctx)
    with pytest.raises(KeyboardInterrupt):
        _deploy(monkeypatch, world, _plan(settings), leave_running=True)
    assert ecs.writes == [("register", "api"), ("update", NEW)]
    assert announced[-1].outcome == "failed" and not announced[-1].rolled_back


@pytest.mark.parametrize("group", ["", " blue-green ", "other-group"])
def test_deployment_group_is_refused_for_a_rolling_service_or_a_bad_name(monkeypatch, world,
                                                                          group) -> None:
    *_, ecs, announced, settings = world
    with pytest.raises(UsageError, match="--deployment-group"):
        _deploy(monkeypatch, world, _plan(settings), deployment_group=group)
    assert ecs.writes == [] and announced == []
