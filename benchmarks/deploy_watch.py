"""How soon and how cheaply a deployment's end is seen: Shipyard's watch loop against the AWS
CLI waiters, both following the same deployment at the same time, on the sandbox.

    .venv/bin/python benchmarks/deploy_watch.py [--runs 3] [--quick] [--time-scale 30]

* rolling: a busybox service of 2 tasks (ECS deployment controller) updated from A to B;
  `watch(rolling_look(...))` with the real `Ecs` adapter against
  `aws ecs wait services-stable`.
* rolled back: the same with a B that exits at once and the circuit breaker with rollback:
  the end is our deployment's failure; what each watcher says matters more than when.
* blue/green: a CODE_DEPLOY service behind a load balancer, a CodeDeploy deployment of B
  (canary 50% for 1 minute, AWS time); `follow_blue_green(...)` (what `shipyard deploy`
  runs) with the real `CodeDeploy` adapter against `aws deploy wait deployment-successful`.

Both are set up as the sandbox's integration tests set them up (their helpers are loaded from
tests/integration/sandbox_ecs). Each watcher starts right after UpdateService or
CreateDeployment answers. For each the benchmark records when it reported the end (Shipyard:
`watch` returned; the CLI: its process exited) and how many API calls it made (Shipyard: a
botocore `before-call` hook on its client; the CLI: the requests its `--debug` log names).
The end itself comes from the sandbox: the service event "has reached a steady state" after
the update (rolling), the event "(deployment ID) deployment failed" (rolled back), the
deployment's completeTime (blue/green). Rolling runs also note when
the waiter's own condition first held (one deployment listed, running = desired), polled by
an observer every 0.2 s whose calls count for neither.

Bounded: `--watch-timeout` per watcher (the CLI process is killed then), `--max-minutes`
stops starting new runs, and the sandbox (its own folder under /tmp) is stopped on the way
out. Needs root (the sandbox runs tasks as processes in namespaces).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_cache import ROOT, aws_cli

sys.path.insert(0, str(ROOT / "src"))  # this checkout's shipyard

from bench_routes import tool_env, tool_version

from shipyard.adapters.aws import Aws
from shipyard.adapters.codedeploy import CodeDeploy
from shipyard.adapters.ecs import Ecs
from shipyard.usecases.deploy.blue_green import follow_blue_green
from shipyard.usecases.deploy.watch import rolling_look, watch
from shipyard_sandbox import control

TESTS = ROOT / "tests" / "integration" / "sandbox_ecs"
REGION = "ap-northeast-2"
CLI_REQUEST = re.compile(r"Making request for OperationModel\(name=(\w+)\)")


@dataclass
class Sample:
    kind: str  # "rolling", "rolled back" or "blue/green"
    ended: float  # epoch seconds: the end state, as the sandbox recorded it
    shipyard_at: float  # when watch() returned
    shipyard_calls: int
    shipyard_verdict: str
    cli_at: float  # when the CLI process exited
    cli_calls: int
    cli_outcome: str  # "exit 0", "exit 255", "killed after 300s"
    condition_at: float | None = None  # rolling: the waiter's condition first held
    started: float = 0.0  # when the watchers started

    @property
    def shipyard_delay(self) -> float:
        return self.shipyard_at - self.ended

    @property
    def cli_delay(self) -> float:
        return self.cli_at - self.ended


class CliWaiter:
    """An AWS CLI waiter as a process of its own; when it exited and the calls it made."""

    def __init__(self, command: list[str], env: dict[str, str], timeout: float) -> None:
        self.exited, self.outcome, self.log = 0.0, "", ""
        self._process = subprocess.Popen([*command[:1], "--debug", *command[1:]], env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True)
        self._thread = threading.Thread(target=self._wait, args=(timeout,), daemon=True)
        self._thread.start()

    def _wait(self, timeout: float) -> None:
        try:
            self.log = self._process.communicate(timeout=timeout)[1]
            self.outcome = f"exit {self._process.returncode}"
        except subprocess.TimeoutExpired:
            self._process.kill()
            self.log = self._process.communicate()[1]
            self.outcome = f"killed after {timeout:.0f}s"
        self.exited = time.time()

    def result(self) -> tuple[float, int, str]:
        self._thread.join()
        return self.exited, len(CLI_REQUEST.findall(self.log)), self.outcome


def counted(client: Any) -> list[str]:
    """The operations `client` calls from now on (a list that grows)."""
    calls: list[str] = []
    client.meta.events.register("before-call",
                                lambda model, **_: calls.append(model.name))
    return calls


def sandbox_test_helpers() -> tuple[Any, Any, Any]:
    """The sandbox ECS tests' helpers (conftest, test_services, test_codedeploy_blue_green),
    imported as a package of their own: they import each other relatively."""
    package = types.ModuleType("sandbox_ecs_tests")
    package.__path__ = [str(TESTS)]
    sys.modules[package.__name__] = package
    return tuple(importlib.import_module(f"sandbox_ecs_tests.{name}") for name in (
        "conftest", "test_services", "test_codedeploy_blue_green"))  # type: ignore[return-value]


class Bench:
    def __init__(self, world: Any, helpers: tuple[Any, Any, Any], aws: list[str],
                 timeout: float) -> None:
        self.world, self.aws, self.timeout = world, aws, timeout
        self.conftest, self.services, self.blue_green = helpers
        self.cli_env = {**tool_env(), **world.env}

    def rolling(self, broken: bool = False) -> Sample:
        world, services = self.world, self.services
        name = f"bench-{uuid.uuid4().hex[:6]}"
        first = world.register(name, [services.web("A")])
        second = world.register(name, [services.web("B", command=["echo B; exit 1"])
                                       if broken else services.web("B")])
        services.create(world, name, first, 2, minimumHealthyPercent=100, maximumPercent=200,
                        deploymentCircuitBreaker={"enable": True, "rollback": True})
        services.settled(world, name, first, 2)
        seen = {event["id"] for event in world.service(name)["events"]}
        ecs = Ecs(Aws(REGION))  # made before the write, as deploy has its client by then
        calls = counted(ecs.client)
        answer = world.client("ecs").update_service(cluster=world.cluster, service=name,
                                                    taskDefinition=second)
        ours = next(d["id"] for d in answer["service"]["deployments"]
                    if d["status"] == "PRIMARY")
        started = time.time()
        cli = CliWaiter([*self.aws, "ecs", "wait", "services-stable", "--cluster",
                         world.cluster, "--services", name], self.cli_env, self.timeout)
        observer = Observer(lambda: _stable(world.service(name)), self.timeout)
        verdict = watch(rolling_look(ecs, world.cluster, name, ours, seen),
                        timeout=self.timeout, clock=time.monotonic, sleep=time.sleep,
                        report=lambda _: None)
        shipyard_at = time.time()
        cli_at, cli_calls, outcome = cli.result()
        condition_at = observer.result()
        end = f"(deployment {ours}) deployment failed" if broken \
            else "has reached a steady state"
        ended = [event["createdAt"].timestamp() for event in world.service(name)["events"]
                 if event["id"] not in seen and end in event["message"]]
        services.remove(world, name)
        if not ended:
            raise RuntimeError(f"{name}: no event {end!r} after the update; {verdict}")
        return Sample("rolled back" if broken else "rolling", min(ended), shipyard_at,
                      len(calls), verdict.state, cli_at, cli_calls, outcome, condition_at,
                      started)

    def blue_green_run(self, make_load_balancer: Callable[..., Any]) -> Sample:
        world = self.world
        codedeploy = CodeDeploy(Aws(REGION))
        calls = counted(codedeploy.client)
        name, deployment, _, _ = self.blue_green.blue_green(world, make_load_balancer, {})
        started = time.time()
        cli = CliWaiter([*self.aws, "deploy", "wait", "deployment-successful",
                         "--deployment-id", deployment], self.cli_env, self.timeout)
        verdict = follow_blue_green(codedeploy, deployment, timeout=self.timeout,
                                    approve_traffic=False, leave_running=True,
                                    clock=time.monotonic, sleep=time.sleep,
                                    report=lambda _: None)
        shipyard_at = time.time()
        cli_at, cli_calls, outcome = cli.result()
        info = world.client("codedeploy").get_deployment(deploymentId=deployment)[
            "deploymentInfo"]
        self.blue_green.tear_down(world, name)
        if "completeTime" not in info:
            raise RuntimeError(f"{deployment}: not complete ({info.get('status')}); {verdict}")
        return Sample("blue/green", info["completeTime"].timestamp(), shipyard_at, len(calls),
                      verdict.state, cli_at, cli_calls, outcome, None, started)


def _stable(service: dict[str, Any]) -> bool:
    """The services-stable waiter's success condition for one service."""
    return len(service["deployments"]) == 1 \
        and service["runningCount"] == service["desiredCount"]


class Observer:
    """When `probe()` first held, polled every 0.2 s in a thread (None: not within
    `timeout`)."""

    def __init__(self, probe: Callable[[], bool], timeout: float) -> None:
        self.at: float | None = None
        self._thread = threading.Thread(target=self._poll, args=(probe, timeout), daemon=True)
        self._thread.start()

    def _poll(self, probe: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if probe():
                self.at = time.time()
                return
            time.sleep(0.2)

    def result(self) -> float | None:
        self._thread.join()
        return self.at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="deployments of each kind")
    parser.add_argument("--quick", action="store_true", help="one deployment of each kind")
    parser.add_argument("--time-scale", type=float, default=None,
                        help="the sandbox's time scale (its default: 30)")
    parser.add_argument("--watch-timeout", type=float, default=180.0,
                        help="seconds each watcher may take")
    parser.add_argument("--max-minutes", type=float, default=15.0,
                        help="start no new deployment after this long")
    parser.add_argument("--aws", help="an aws command to use instead of the cache's AWS CLI")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the sandbox is stopped
    runs = 1 if args.quick else args.runs
    aws = aws_cli(args.aws)
    helpers = sandbox_test_helpers()
    conftest = helpers[0]
    conftest.images.require_root()
    deadline = time.monotonic() + args.max_minutes * 60
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-watch-", dir="/tmp") as tmp:
        state = Path(tmp) / "sandbox"
        endpoints, _ = control.up(state, region=REGION, time_scale=args.time_scale)
        try:
            env = endpoints.environment()
            os.environ.update(env)  # Shipyard's adapters read the sandbox's endpoint here
            layers = [conftest.images.layer_of(conftest.images.base_layer),
                      conftest.images.layer_of(conftest.images.top_layer)]
            image = conftest.push_image(env, layers, Path(tmp) / "busybox",
                                        conftest.REPOSITORY)
            bench = Bench(conftest.make_world(env, image), helpers, aws, args.watch_timeout)
            with conftest.load_balancers(bench.world, state) as make_load_balancer:
                for run in range(runs):
                    if time.monotonic() > deadline:
                        break
                    kinds = ["rolling", "blue/green", "rolled back"]
                    for kind in kinds[run % 3:] + kinds[:run % 3]:  # each goes first in turn
                        sample = bench.blue_green_run(make_load_balancer) \
                            if kind == "blue/green" else bench.rolling(kind == "rolled back")
                        samples.append(sample)
                        print(f"{kind} run {run + 1}: shipyard +{sample.shipyard_delay:.2f}s "
                              f"({sample.shipyard_calls} calls), aws CLI "
                              f"+{sample.cli_delay:.2f}s ({sample.cli_calls} calls)",
                              file=sys.stderr)
        finally:
            control.down(state)
            shutil.rmtree(state, ignore_errors=True)
    scale = args.time_scale or 30.0
    print(f"tools: {tool_version([*aws, '--version'], tool_env())}; sandbox time scale "
          f"{scale:g}")
    report(samples)


def report(samples: list[Sample]) -> None:
    print(f"\n{'':<40}{'runs':>5}{'seen after the end':>20}{'API calls':>11}{'calls/s':>9}"
          f"  outcome")
    print(f"{'':<40}{'':>5}{'median':>11}{'max':>9}{'median':>11}{'median':>9}")
    for kind, other in (("rolling", "aws ecs wait services-stable"),
                        ("rolled back", "aws ecs wait services-stable"),
                        ("blue/green", "aws deploy wait deployment-successful")):
        chosen = [s for s in samples if s.kind == kind]
        if not chosen:
            continue
        print(kind if kind != "rolled back" else
              "rolled back by the circuit breaker (exit 0 says: stable, a success)")
        rows = [("shipyard watch", [s.shipyard_delay for s in chosen],
                 [s.shipyard_calls for s in chosen],
                 [s.shipyard_calls / max(s.shipyard_at - s.started, 1e-3) for s in chosen],
                 {s.shipyard_verdict for s in chosen}),
                (other, [s.cli_delay for s in chosen], [s.cli_calls for s in chosen],
                 [s.cli_calls / max(s.cli_at - s.started, 1e-3) for s in chosen],
                 {s.cli_outcome for s in chosen})]
        for label, delays, calls, rates, outcomes in rows:
            print(f"  {label:<38}{len(delays):>5}{statistics.median(delays):>10.2f}s"
                  f"{max(delays):>8.2f}s{statistics.median(calls):>11g}"
                  f"{statistics.median(rates):>9.2f}  {', '.join(sorted(outcomes))}")
        late = statistics.median(rows[1][1]) / max(statistics.median(rows[0][1]), 1e-3)
        calls = statistics.median(rows[1][2]) / max(statistics.median(rows[0][2]), 1)
        print(f"  ratio aws CLI / shipyard: {late:.0f}x as late, {calls:.2f}x the calls")
        held = [s.condition_at - s.ended for s in chosen if s.condition_at is not None]
        if held:
            print(f"  the waiter's condition (1 deployment listed, running = desired) held "
                  f"{statistics.median(held):.2f}s after the end")
    print("seen after the end: from the end the sandbox recorded (steady-state event,\n"
          "deployment failed event, completeTime) to the report; calls/s: over the watch")


if __name__ == "__main__":
    main()
