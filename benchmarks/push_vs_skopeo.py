"""Time `shipyard push` against the tools users push with today, side by side in one run.

    .venv/bin/python benchmarks/push_vs_skopeo.py [--runs 5] [--layers 4 --layer-mb 64]

* push, whole processes, each route into a fresh sandbox of its own (see bench_routes.py):
  `shipyard push --from-oci` against bare `skopeo copy` (fresh and no-op re-push), and
  against the script users write today (`aws ecr create-repository`, `aws ecr
  get-login-password | skopeo login`, `skopeo copy`; fresh).
* the registry clients alone (bench_client.py): our `RegistryClient` in this process against
  `skopeo copy`, both to a plain `docker-registry`.
* start-up (bench_startup.py): `shipyard --help` (in a pipe and on a terminal) and
  `shipyard -C GamePulse version`, with `skopeo --help` and `aws --version` for reference.

Every figure is the median of the runs, after one untimed round; routes take turns going
first. The layout, Python's
byte-code and the AWS CLI are kept in benchmarks/.cache and everything else there is pruned
(bench_cache.py). Bounded: `--max-minutes` stops starting new runs, each process has a
timeout, and every sandbox and registry is stopped on the way out.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_cache import (
    AWS_VENV,
    PYCACHE,
    ROOT,
    aws_cli,
    describe,
    layout_dir,
    make_layout,
    prune,
)

sys.path.insert(0, str(ROOT / "src"))  # time this checkout's shipyard

from bench_client import run_client
from bench_routes import (
    SHIPYARD,
    aws_and_skopeo,
    bare_skopeo,
    commit,
    git_project,
    python_env,
    sandbox,
    shipyard_push,
    timed,
    tool_env,
    tool_version,
)
from bench_startup import startup_times

Times = dict[str, list[float]]
# The goals: (row, limit, kind) where kind is "ratio" (shipyard / other) or seconds.
GOALS = {"fresh vs bare skopeo copy": (0.9, "ratio"), "fresh vs aws CLI + skopeo": (0.5, "ratio"),
         "no-op re-push vs bare skopeo": (0.35, "s"), "shipyard --help (pipe)": (0.25, "s"),
         "shipyard --help (terminal)": (0.25, "s"), "shipyard -C GamePulse version": (0.25, "s")}


def run_routes(work: Path, layout: Path, project: Path, aws: list[str], run: int,
               times: Times) -> None:
    """One run of the three push routes, each into a fresh sandbox, in a rotating order."""
    routes = ["shipyard", "skopeo", "aws"]
    for route in routes[run % 3:] + routes[:run % 3]:
        with sandbox(work / f"sandbox-{route}-{run}") as sandbox_env:
            if route == "shipyard":
                env, command = {**python_env(), **sandbox_env}, shipyard_push(project, layout)
            elif route == "skopeo":
                env, command = {**tool_env(), **sandbox_env}, bare_skopeo(sandbox_env, layout)
            else:
                env = {**tool_env(), **sandbox_env}
                command = aws_and_skopeo(aws, sandbox_env, layout, work / f"auth-{run}.json")
            times.setdefault(f"{route} fresh", []).append(timed(command, env))
            if route != "aws":
                times.setdefault(f"{route} no-op", []).append(timed(command, env))


def gamepulse_copy(work: Path) -> Path:
    """GamePulse in a one-commit repository of its own, for `shipyard -C GamePulse version`."""
    shutil.copytree(ROOT / "GamePulse", work / "gp" / "GamePulse",
                    ignore=shutil.ignore_patterns(".shipyard", ".build", "__pycache__"))
    commit(work / "gp")
    return work / "gp"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--layer-mb", type=int, default=64, help="MiB of data per layer")
    parser.add_argument("--runs", type=int, default=5, help="runs of each push route")
    parser.add_argument("--startup-runs", type=int, default=15)
    parser.add_argument("--aws", help="an aws command to use instead of the cache's AWS CLI")
    parser.add_argument("--max-minutes", type=float, default=20.0,
                        help="start no new run after this long")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so sandboxes are stopped

    layout = layout_dir(args.layers, args.layer_mb)
    keep = {layout, PYCACHE} | (set() if args.aws else {AWS_VENV})
    pruned = prune(keep)
    size = make_layout(layout, args.layers, args.layer_mb)
    aws = aws_cli(args.aws)
    print(f"cache: {describe(keep)}")
    if pruned:
        print("pruned: " + ", ".join(f"{name} ({n / 1e6:.0f} MB)" for name, n in pruned))
    deadline = time.monotonic() + args.max_minutes * 60
    times: Times = {}
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-", dir="/tmp") as tmp:
        work = Path(tmp)
        gamepulse = gamepulse_copy(work)
        project = git_project(work / "repo")
        shipyard_env, other_env = python_env(), tool_env()
        versions = [tool_version([*aws, "--version"], other_env),
                    tool_version(["skopeo", "--version"], other_env)]
        startup = startup_times({
            "shipyard --help (pipe)": ([*SHIPYARD, "--help"], shipyard_env, False),
            "shipyard --help (terminal)": ([*SHIPYARD, "--help"], shipyard_env, True),
            "shipyard -C GamePulse version": ([*SHIPYARD, "-C", "GamePulse", "version"],
                                              shipyard_env, False),
            "skopeo --help": (["skopeo", "--help"], other_env, False),
            "aws --version": ([*aws, "--version"], other_env, False),
        }, gamepulse, args.startup_runs)
        # One untimed round first: byte-code for the push's imports, the layout in the page
        # cache, and each tool's binary loaded, for every route alike.
        run_routes(work, layout, project, aws, 0, {})
        runs = 0
        while runs < args.runs and time.monotonic() < deadline:
            run_routes(work, layout, project, aws, runs, times)
            run_client(work, layout, runs, _view(times, "client fresh"),
                       _view(times, "client no-op"))
            runs += 1
    print(f"layout: {args.layers} layers, {size / 1e6:.0f} MB; {runs} runs of each push "
          f"route, {args.startup_runs} of each start-up; medians")
    print(f"tools: {'; '.join(versions)}")
    report(times, startup)


def _view(times: Times, prefix: str) -> Times:
    """`times` seen as {"shipyard": [...], "skopeo": [...]} under `prefix`."""
    return {tool: times.setdefault(f"{prefix} {tool}", []) for tool in ("shipyard", "skopeo")}


def report(times: Times, startup: Times) -> None:
    median = {name: statistics.median(values) for name, values in times.items() if values}
    print(f"\n{'push (whole processes, fresh sandboxes)':<42}{'shipyard':>9}{'other':>8}"
          f"{'ratio':>7}  goal")
    rows = [("fresh vs bare skopeo copy", "shipyard fresh", "skopeo fresh"),
            ("fresh vs aws CLI + skopeo", "shipyard fresh", "aws fresh"),
            ("no-op re-push vs bare skopeo", "shipyard no-op", "skopeo no-op"),
            ("client alone, plain registry, fresh", "client fresh shipyard",
             "client fresh skopeo"),
            ("client alone, plain registry, no-op", "client no-op shipyard",
             "client no-op skopeo")]
    for label, ours, other in rows:
        if ours in median and other in median:
            ratio = median[ours] / median[other]
            print(f"{label:<42}{_s(median[ours]):>9}{_s(median[other]):>8}{ratio:>7.2f}  "
                  f"{_goal(label, median[ours], ratio)}")
    print(f"\n{'start-up (process wall time)':<42}{'median':>9}{'min':>8}{'':>7}  goal")
    for label, values in startup.items():
        value = statistics.median(values)
        print(f"{label:<42}{_s(value):>9}{_s(min(values)):>8}{'':>7}  {_goal(label, value, 0)}")
    print("ratio = shipyard time / other time (below 1: shipyard is faster)")


def _goal(label: str, seconds: float, ratio: float) -> str:
    if label not in GOALS:
        return ""
    limit, kind = GOALS[label]
    value, shown = (ratio, f"<= {limit:.2f}x") if kind == "ratio" else (seconds, f"<= {limit}s")
    return f"{shown} {'met' if value <= limit else 'NOT MET'}"


def _s(value: float) -> str:
    return f"{value:.2f}s" if value >= 0.1 else f"{value * 1000:.0f}ms"


if __name__ == "__main__":
    main()
