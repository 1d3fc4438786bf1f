"""The watch loop against a fake service on a fake clock: quick to see, cheap to ask."""

from __future__ import annotations

from shipyard.usecases.deploy.watch import rolling_look, watch

OURS = "ecs-svc/2"


class FakeService:
    """A service whose deployment completes (or fails) at `done_at` seconds."""

    def __init__(self, clock, done_at: float, outcome: str = "COMPLETED") -> None:
        self.clock, self.done_at, self.outcome, self.reads = clock, done_at, outcome, 0

    def service(self, cluster: str, name: str):
        self.reads += 1
        done = self.clock() >= self.done_at
        rollout = self.outcome if done else "IN_PROGRESS"
        running = 2 if done and self.outcome == "COMPLETED" else 1
        events = [{"id": "e0", "message": "(service api) has started 1 tasks"}]
        if done:
            events.insert(0, {"id": "e1", "message": "(service api) has reached a steady "
                                                     "state." if self.outcome == "COMPLETED"
                              else "(service api) deployment failed: tasks failed to start."})
        return {"deployments": [{"id": OURS, "status": "PRIMARY", "rolloutState": rollout,
                                 "runningCount": running, "desiredCount": 2,
                                 "rolloutStateReason": "circuit breaker: tasks failed to "
                                                       "start." if rollout == "FAILED" else ""}],
                "events": events}


def _run(done_at: float, outcome: str = "COMPLETED", timeout: float = 600):
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731 - a clock the sleep moves

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ecs = FakeService(clock, done_at, outcome)
    lines: list[str] = []
    verdict = watch(rolling_look(ecs, "c", "api", OURS, {"e-before"}), timeout=timeout,
                    clock=clock, sleep=sleep, report=lines.append)
    return verdict, now[0], ecs.reads, lines


def test_success_is_seen_within_2s_at_about_one_read_a_second() -> None:
    verdict, finished, reads, lines = _run(done_at=95.3)
    assert verdict.state == "succeeded"
    assert 95.3 <= finished <= 95.3 + 2.0
    assert reads <= finished + 1
    assert "(service api) has reached a steady state." in lines
    assert lines.count("(service api) has started 1 tasks") == 1  # each event once


def test_a_failure_says_why() -> None:
    verdict, finished, _, lines = _run(done_at=30.0, outcome="FAILED")
    assert verdict.state == "failed" and "circuit breaker" in verdict.reason
    assert finished <= 32.0 and any("deployment failed" in line for line in lines)


def test_the_timeout_is_a_failure_naming_what_it_waited_for() -> None:
    verdict, finished, _, _ = _run(done_at=1e9, timeout=20)
    assert verdict.state == "failed"
    assert verdict.reason.startswith("timed out after 20s; 1/2 running")
    assert 20 <= finished <= 20.5


def _fake_time():
    """A clock (its time in `now[0]`) and the sleep that moves it."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return now, lambda: now[0], sleep


class FakeTargets:
    """A target group whose two targets turn healthy at `healthy_at` seconds."""

    def __init__(self, clock, healthy_at: float) -> None:
        self.clock, self.healthy_at, self.reads = clock, healthy_at, []

    def target_health(self, arn: str):
        self.reads.append(self.clock())
        state = "healthy" if self.clock() >= self.healthy_at else "initial"
        return [{"TargetHealth": {"State": state}}, {"TargetHealth": {"State": state}},
                {"TargetHealth": {"State": "draining"}}]  # the old task, leaving


class BalancedService(FakeService):
    def service(self, cluster: str, name: str):
        described = super().service(cluster, name)
        described["loadBalancers"] = [{"targetGroupArn": "arn:aws:elasticloadbalancing:r:1:"
                                       "targetgroup/api-blue/abc", "containerPort": 8080}]
        return described


def test_with_a_load_balancer_success_waits_for_healthy_targets() -> None:
    now, clock, sleep = _fake_time()
    ecs, targets = BalancedService(clock, done_at=10.0), FakeTargets(clock, healthy_at=25.0)
    lines: list[str] = []
    verdict = watch(rolling_look(ecs, "c", "api", OURS, targets=lambda: targets),
                    timeout=600, clock=clock, sleep=sleep, report=lines.append)
    assert verdict.state == "succeeded"
    assert 25.0 <= now[0] <= 27.0
    # the targets were read only once ECS called the rollout complete
    assert targets.reads and min(targets.reads) >= 10.0
    assert any("waiting for healthy targets: api-blue 0/2 healthy, 2 initial" in line
               for line in lines), lines


def test_targets_that_never_turn_healthy_time_out_saying_so() -> None:
    _, clock, sleep = _fake_time()
    ecs, targets = BalancedService(clock, done_at=5.0), FakeTargets(clock, healthy_at=1e9)
    verdict = watch(rolling_look(ecs, "c", "api", OURS, targets=lambda: targets),
                    timeout=30, clock=clock, sleep=sleep, report=lambda line: None)
    assert verdict.state == "failed"
    assert verdict.reason.startswith("timed out after 30s;")
    assert "api-blue 0/2 healthy" in verdict.reason


def test_target_health_that_cannot_be_read_leaves_the_verdict_to_ecs() -> None:
    from shipyard.errors import AwsError

    _, clock, sleep = _fake_time()

    class Refusing:
        def target_health(self, arn: str):
            raise AwsError("elasticloadbalancing:DescribeTargetHealth failed: Throttling")

    lines: list[str] = []
    verdict = watch(rolling_look(BalancedService(clock, done_at=5.0), "c", "api", OURS,
                                 targets=Refusing), timeout=60, clock=clock, sleep=sleep,
                    report=lines.append)
    assert verdict.state == "succeeded"
    assert any(line.startswith("target health could not be read (") and "Throttling" in line
               and "judged by ECS's rollout alone" in line for line in lines), lines
