"""`shipyard demo`: the GamePulse release pipeline, step by step.

It runs against whatever AWS the environment names; `shipyard demo` on the command line starts
the local sandbox first. The steps, numbered in the order they run:

1. (when the caller provides it) the environments' resources: the sandbox provisions them
   from the service's CloudFormation template, as a team's infrastructure exists before it
   releases;
2. the release version and the image tag plan for this checkout;
3. the base image the Dockerfile builds FROM (built offline by the service's script when
   missing, then pushed to its own repository, as a team would mirror it into ECR);
4. `push --multi-arch --latest --scan`: build for linux/amd64 and linux/arm64, push the index
   with its tags, and gate on the scan of each platform image;
5. `verify` each environment with the pushed image: its task definition rendered and checked
   against ECS's model and every resource it names;
6. `deploy` each environment in turn with that one image (built once, deployed many): staging
   by rolling update, production by CodeDeploy blue/green with its canary config, each
   followed to its verdict and health-checked through its URL; approved as the pipeline's
   production reviewers would approve it. A failed deploy stops the pipeline there.

Each step is reported as it starts and ends (`StepStarted`, `StepNote`, `StepFinished`) to the
observer in `DemoOptions`, so a view can show the pipeline while it runs; the use case itself
never prints.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shipyard.adapters.oci_layout import OciLayout
from shipyard.config import Config
from shipyard.domain.board import Board
from shipyard.domain.health_url import expand_url
from shipyard.errors import BuildError
from shipyard.usecases.context import Context
from shipyard.usecases.deploy.deploy import DeployOptions, DeployOutcome, deploy
from shipyard.usecases.push import PushOptions, PushResult, new_repository, push
from shipyard.usecases.scan import ScanResult, enforce_gate
from shipyard.usecases.tags import TagsOptions, TagsResult, plan_image_tags
from shipyard.usecases.target import resolve_target
from shipyard.usecases.verify import VerifyResult, verify_environment

Summary = tuple[tuple[str, str], ...]  # (label, value) lines, in order


@dataclass(frozen=True)
class StepStarted:
    """A step begins; `step` names which one ("infrastructure", "version", "base_image",
    "push", "verify", "deploy_<environment>"), `title` says what it does."""

    number: int
    step: str
    title: str


@dataclass(frozen=True)
class StepNote:
    """Something a step is doing now that takes a while (a build, say)."""

    number: int
    text: str


@dataclass(frozen=True)
class StepFinished:
    """A step ended: `ok` is false when it found a failure it reports (a scan gate, a failed
    check); `summary` is what it came to; `result` holds everything the steps so far produced,
    for a view that shows the step's detail."""

    number: int
    step: str
    title: str
    ok: bool
    seconds: float
    summary: Summary
    result: DemoResult


StepEvent = StepStarted | StepNote | StepFinished


def ignore_steps(event: StepEvent) -> None:
    """The observer when nobody watches."""


@dataclass(frozen=True)
class DemoOptions:
    """What the caller adds to the pipeline.

    `provision` makes the environments' resources exist and says in one line what it did
    (the CLI passes the sandbox's provisioning; with real AWS they exist already).
    """

    provision: Callable[[], str] | None = None
    on_step: Callable[[StepEvent], None] = ignore_steps


@dataclass(frozen=True)
class StepRecord:
    """A finished step, as the end-of-run summary lists it."""

    number: int
    title: str
    ok: bool
    summary: Summary


@dataclass
class DemoResult:
    """What each pipeline step produced."""

    tags: TagsResult | None = None
    infrastructure: str | None = None
    base_image: str | None = None
    push: PushResult | None = None
    verified: list[VerifyResult] = field(default_factory=list)
    deployed: list[DeployOutcome] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.tags.version.to_json() if self.tags else None,
                "tag_plan": self.tags.to_json() if self.tags else None,
                "infrastructure": self.infrastructure,
                "base_image": self.base_image,
                "push": self.push.to_json() if self.push else None,
                "verify": [v.to_json() for v in self.verified],
                "deploy": [d.to_json() for d in self.deployed],
                "steps": [{"number": s.number, "title": s.title, "ok": s.ok,
                           "summary": dict(s.summary)} for s in self.steps]}


class _Steps:
    """Numbers the steps, times them, and tells the observer when each starts and ends."""

    def __init__(self, options: DemoOptions, ctx: Context, result: DemoResult) -> None:
        self._observe, self._clock, self._result = options.on_step, ctx.clock, result
        self._number, self._step, self._title, self._since = 0, "", "", 0.0

    def start(self, step: str, title: str) -> None:
        self._number, self._step, self._title = self._number + 1, step, title
        self._since = self._clock()
        self._observe(StepStarted(self._number, step, title))

    def note(self, text: str) -> None:
        self._observe(StepNote(self._number, text))

    def finish(self, *summary: tuple[str, str], ok: bool = True) -> None:
        self._result.steps.append(StepRecord(self._number, self._title, ok, summary))
        self._observe(StepFinished(self._number, self._step, self._title, ok,
                                   self._clock() - self._since, summary, self._result))


def run_demo(options: DemoOptions, config: Config, ctx: Context) -> DemoResult:
    """Run the pipeline's steps in order; the first error stops it with its own error.

    A failed scan gate raises after its step is reported; failed verifications are returned
    (every environment is checked) for the caller to show and then enforce.
    """
    result = DemoResult()
    steps = _Steps(options, ctx, result)
    if options.provision is not None:
        steps.start("infrastructure", "the environments' resources from "
                    f"{config.demo.infrastructure or 'the service template'}")
        result.infrastructure = options.provision()
        steps.finish(("infrastructure", result.infrastructure))

    steps.start("version", "version and tag plan")
    result.tags = plan_image_tags(TagsOptions(), config, ctx.git, ctx.actions)
    decision = result.tags.version.decision
    steps.finish(("version", f"{decision.version} ({decision.source}: {decision.reason})"),
                 ("tag plan", ", ".join(result.tags.plan.tags)))

    if config.demo.base_image_layout is not None:
        demo = config.demo
        steps.start("base_image", f"base image {demo.base_image_repository}:"
                    f"{demo.base_image_tag}")
        result.base_image = publish_base_image(config, ctx, note=steps.note)
        ctx = ctx.with_env({**ctx.env, demo.base_image_env: result.base_image})
        steps.finish(("base image", result.base_image))

    options_push = PushOptions(multi_arch=True, latest=True, scan=True)
    platforms = ", ".join(config.build.multi_arch_platforms)
    steps.start("push", f"build, push and scan ({platforms}; latest)")
    steps.note(f"building {platforms}, then pushing and scanning")
    result.push = pushed = push(options_push, config, ctx)
    assert pushed.scan is not None  # scan=True above
    steps.finish(("image", pushed.image or "(none)"), ("tags", _tags_done(pushed)),
                 ("scan", _scan_line(pushed.scan)), ok=pushed.scan.decision.passed)
    enforce_gate(pushed.scan)

    steps.start("verify", "verify each environment with this image "
                f"({', '.join(config.environments)})")
    for name in config.environments:
        steps.note(f"verifying {name}")
        result.verified.append(verify_environment(name, pushed.image, config, ctx))
    steps.finish(("verify", ", ".join(_verify_line(v) for v in result.verified)),
                 ok=not any(v.failed for v in result.verified))
    if any(v.failed for v in result.verified):
        return result
    for name in config.environments:
        settings = config.environment(name)
        steps.start(f"deploy_{name}", f"deploy {name} ({settings.deployment.replace('_', '/')})")
        outcome = deploy(DeployOptions(name, image=pushed.image, yes=True,
                                       approve_traffic=True), config, ctx, _Notes(steps))
        result.deployed.append(outcome)
        steps.finish((name, _deploy_line(outcome, ctx)), ok=not outcome.failed)
        if outcome.failed:
            break
    return result


class _Notes:
    """A deploy's progress as the demo step's notes (the board is left to `shipyard
    status`)."""

    def __init__(self, steps: _Steps) -> None:
        self._steps = steps

    def step(self, text: str) -> None:
        self._steps.note(text)

    def news(self, line: str) -> None:
        self._steps.note(line)

    def board(self, snapshot: Board) -> None:
        pass

    def warn(self, line: str) -> None:
        self._steps.note(f"warning: {line}")


def _deploy_line(outcome: DeployOutcome, ctx: Context) -> str:
    report, plan = outcome.report, outcome.plan
    if report is None:
        return f"nothing to deploy: runs {plan.running.rsplit('/', 1)[-1]} already"
    how = f"{plan.strategy.replace('_', '/')} {report.deployment_id}, {report.duration:g}s"
    if report.outcome != "succeeded":
        back = ", rolled back" if report.rolled_back else ""
        return f"FAILED ({how}): {report.reason}{back}"
    health = plan.settings.health
    where = f"; {expand_url('health.url', health.url, ctx.env)} serves " \
        f"{report.version or 'it'}" if health is not None else ""
    return f"runs {report.version or report.image} ({how}){where}"


def _tags_done(pushed: PushResult) -> str:
    parts = []
    if pushed.tags_to_set:
        parts.append(f"set {', '.join(pushed.tags_to_set)}")
    if pushed.tags_unchanged:
        parts.append(f"already in place {', '.join(pushed.tags_unchanged)}")
    return "; ".join(parts) or "none"


def _scan_line(scan: ScanResult) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in scan.decision.counts.items()) or "no findings"
    verdict = "passed" if scan.decision.passed else "FAILED"
    return f"{verdict} at {scan.decision.threshold}: {counts}"


def _verify_line(verified: VerifyResult) -> str:
    name, total = verified.render.environment, len(verified.checks)
    if verified.failed:
        return f"{name} FAILED ({len(verified.failed)} of {total} checks)"
    skipped = f", {len(verified.skipped)} skipped" if verified.skipped else ""
    return f"{name} ok ({total - len(verified.skipped)} checks{skipped})"


def publish_base_image(config: Config, ctx: Context,
                       note: Callable[[str], None] = lambda text: None) -> str:
    """Make sure the base image exists in the registry; returns its reference."""
    demo = config.demo
    assert demo.base_image_layout is not None
    layout_dir = config.path(demo.base_image_layout)
    if not (layout_dir / "index.json").exists():
        note(f"building the base image offline with {demo.base_image_script} "
             "(first run only, about 10 s)")
        _build_base_layout(config, layout_dir)
    layout = OciLayout.open(layout_dir)
    target = resolve_target(config, ctx, repository=demo.base_image_repository)
    ecr = ctx.ecr
    if ecr.describe_repository(target.repository) is None:
        # Base images are mirrored, and the same tag is refreshed: a mutable repository.
        ecr.create_repository(replace(new_repository(config, target.repository),
                                      tag_mutability="MUTABLE"))
    note(f"pushing to {target.image_base}")
    login = ecr.login(target.account_id).for_host(target.registry)
    with ctx.registry(target.registry, auth=login, progress=ctx.progress) as registry:
        registry.push_layout(layout, target.repository, [demo.base_image_tag])
    return f"{target.image_base}:{demo.base_image_tag}"


def _build_base_layout(config: Config, layout_dir: Path) -> None:
    script = config.demo.base_image_script
    if script is None:
        raise BuildError(f"base image layout {layout_dir} is missing and no "
                         "demo.base_image_script is configured to build it")
    done = subprocess.run(["bash", str(config.path(script)), str(layout_dir)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"{script} failed: {last}; it needs root, mmdebstrap and the Debian "
                         "mirror (see its --help)")
