"""`shipyard demo`: the service's release pipeline, as its CI workflow runs it, on the sandbox.

It runs against the sandbox the caller started (`shipyard demo` on the command line does), and
rehearses the committed GitHub Actions workflow (`shipyard rehearse`) for the events a team's
release makes, in a repository of the demo's own (`demo_repository`). The steps, numbered in
the order they run:

1. (when the caller provides it) the environments' resources: the sandbox provisions them
   from the service's CloudFormation template, as a team's infrastructure exists before it
   releases;
2. the base image the Dockerfile builds FROM (built offline by the service's script when
   missing, then pushed to its own repository, as a team would mirror it into ECR);
3. the demo's repository: a clone of the checkout's HEAD on `develop`, its `origin` a bare
   repository that lives with the sandbox;
4. a push to `develop`: the workflow's test, build (version, multi-arch build, push, scan),
   staging deploy (rolling), integration (smoke and load tests) and cleanup jobs;
5. develop merged to `main` (fast-forward: the same commit): its image is promoted to the
   release version, not rebuilt; staging, then production by CodeDeploy blue/green after the
   production review (approved, as the environment's reviewers would), health-checked; the
   integration job's smoke and load tests against production; the release's git tag pushed;
6. a second commit on `main`: the next version, built once and deployed to both.

Each step is reported as it starts and ends (`StepStarted`, `StepNote`, `StepFinished`) to the
observer in `DemoOptions`, so a view can show the pipeline while it runs; the use case itself
never prints. A rehearsal that fails stops the pipeline after its step is reported, and the
result says which job and step failed (`failure`).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shipyard.adapters.oci_layout import OciLayout
from shipyard.config import Config
from shipyard.domain.health_url import expand_url
from shipyard.errors import BuildError, ConfigError, ShipyardError
from shipyard.usecases import demo_repository
from shipyard.usecases.ci_github import default_workflow_path
from shipyard.usecases.context import Context
from shipyard.usecases.push import new_repository
from shipyard.usecases.rehearse import MARKS
from shipyard.usecases.rehearse.events import EventOptions
from shipyard.usecases.rehearse.runner import (
    JobResult,
    Rehearsal,
    RehearseOptions,
    StepResult,
    failure_message,
    rehearse,
)
from shipyard.usecases.target import resolve_target

Summary = tuple[tuple[str, str], ...]  # (label, value) lines, in order
SECOND_COMMIT_LINE = "the second commit on main, made by shipyard demo"


@dataclass(frozen=True)
class StepStarted:
    """A step begins; `step` names which one ("infrastructure", "base_image", "repository",
    "push_develop", "merge_main", "second_main"), `title` says what it does."""

    number: int
    step: str
    title: str


@dataclass(frozen=True)
class StepNote:
    """Something a step is doing now. `kind`: "status" (what it does now: a terminal's live
    view shows it, a log prints it), "line" (a result worth keeping: printed in both), or
    "live" (passing output: only a terminal's live view shows it)."""

    number: int
    text: str
    kind: str = "status"


@dataclass(frozen=True)
class StepFinished:
    """A step ended: `ok` is false when it found a failure it reports (a job that failed);
    `summary` is what it came to; `result` holds everything the steps so far produced."""

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

    `sandbox_dir` is the running sandbox's state folder (the demo's origin lives there),
    `fresh_sandbox` says it was just started (so an origin left from an earlier one is
    dropped), `sandbox_env` gives its endpoints, credentials and listener URLs to the
    rehearsed jobs, `provision` makes the environments' resources exist and says in one line
    what it did, and `run_dir` is the new folder this run keeps its clone and rehearsals in.
    """

    sandbox_dir: Path
    run_dir: Path
    sandbox_env: Callable[[], Mapping[str, str]]
    fresh_sandbox: bool = False
    provision: Callable[[], str] | None = None
    on_step: Callable[[StepEvent], None] = ignore_steps
    timeout: float = 3600.0  # seconds, each rehearsal


@dataclass(frozen=True)
class StepRecord:
    """A finished step, as the end-of-run summary lists it."""

    number: int
    title: str
    ok: bool
    summary: Summary


@dataclass(frozen=True)
class Release:
    """What one rehearsed push released: the build job's outputs and where it went."""

    event: str
    commit: str
    version: str
    image: str
    digest: str
    promoted: bool  # the build job tagged an image built before, instead of building
    environments: dict[str, str]  # deployed environment -> its URL
    loadtest: dict[str, Any] | None  # the integration job's load-test summary.json
    reports: dict[str, str]  # name -> path: the load test's reports and plot, the smoke's
    supply_chain: str = ""  # its signatures and SBOMs, as found in the registry afterwards
    # deployed environment -> the version its URL served right after the rehearsal (or why
    # none could be read)
    served: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "commit": self.commit, "version": self.version,
                "image": self.image, "digest": self.digest, "promoted": self.promoted,
                "environments": self.environments, "loadtest": self.loadtest,
                "reports": self.reports, "supply_chain": self.supply_chain,
                "served": self.served}


@dataclass
class DemoResult:
    """What each pipeline step produced."""

    infrastructure: str | None = None
    base_image: str | None = None
    repository: demo_repository.DemoRepository | None = None
    rehearsals: list[Rehearsal] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    run_dir: Path | None = None
    failure: str | None = None  # the rehearsal that failed, the job and step: where to look

    def to_json(self) -> dict[str, Any]:
        repo = self.repository
        return {"infrastructure": self.infrastructure, "base_image": self.base_image,
                "run_dir": str(self.run_dir) if self.run_dir else None,
                "repository": None if repo is None else {
                    "clone": str(repo.root), "origin": str(repo.origin), "head": repo.head,
                    "merged": repo.merged, "dirty": repo.dirty},
                "failure": self.failure,
                "releases": [r.to_json() for r in self.releases],
                "rehearsals": [r.to_json() for r in self.rehearsals],
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

    def note(self, text: str, kind: str = "status") -> None:
        self._observe(StepNote(self._number, text, kind))

    def finish(self, *summary: tuple[str, str], ok: bool = True) -> None:
        self._result.steps.append(StepRecord(self._number, self._title, ok, summary))
        self._observe(StepFinished(self._number, self._step, self._title, ok,
                                   self._clock() - self._since, summary, self._result))


class _JobLines:
    """A rehearsal's progress as the step's notes: each job as it starts, each of its steps
    as it ends (kept), what a step prints (passing), a failed step's last lines (kept)."""

    def __init__(self, steps: _Steps) -> None:
        self._steps = steps

    def job_started(self, name: str) -> None:
        self._steps.note(f"job {name}")

    def step_started(self, job: str, step: str) -> None:
        self._steps.note(f"{job}: {step}", "live")

    def step_output(self, job: str, line: str) -> None:
        self._steps.note(f"{job}: {line[:160]}", "live")

    def step_finished(self, job: str, step: StepResult) -> None:
        note = f"  ({step.note})" if step.note else ""
        self._steps.note(f"  {MARKS.get(step.result, step.result)} {step.name} "
                         f"[{step.seconds:.1f}s]{note}", "line")
        if step.result == "failure":
            for line in step.tail[-10:]:
                self._steps.note(f"    | {line}", "line")
            if step.log:
                self._steps.note(f"    log: {step.log}", "line")

    def job_finished(self, job: JobResult) -> None:
        note = f"  ({job.note})" if job.note else ""
        self._steps.note(f"{MARKS.get(job.result, job.result)} job {job.name} "
                         f"[{job.seconds:.1f}s]{note}", "line")


def check_demo(config: Config) -> tuple[Path, Path, str]:
    """What the demo reads before anything is written (the CLI asks before it starts the
    sandbox): the checkout's root, the service's folder in it, and the workflow's path, which
    must be committed there. GitError outside a repository, ConfigError without the
    workflow."""
    checkout = demo_repository.checkout_root(config.project_dir)
    service_folder = config.project_dir.resolve().relative_to(checkout.resolve())
    workflow = default_workflow_path(config)
    if not (checkout / workflow).is_file():
        raise ConfigError(f"the demo rehearses the workflow {workflow}, which is not in "
                          f"{checkout}; write it with shipyard ci github, and commit it")
    return checkout, service_folder, workflow


def run_demo(options: DemoOptions, config: Config, ctx: Context) -> DemoResult:
    """Run the pipeline's steps in order; the first error stops it with its own error. A
    rehearsal that fails stops it after its step, the result's `failure` saying where."""
    result = DemoResult(run_dir=options.run_dir)
    steps = _Steps(options, ctx, result)
    checkout, service_folder, workflow = check_demo(config)
    if options.provision is not None:
        steps.start("infrastructure", "the environments' resources from "
                    f"{config.demo.infrastructure or 'the service template'}")
        result.infrastructure = options.provision()
        steps.finish(("infrastructure", result.infrastructure))

    if config.demo.base_image_layout is not None:
        demo = config.demo
        steps.start("base_image", f"base image {demo.base_image_repository}:"
                    f"{demo.base_image_tag}")
        result.base_image = publish_base_image(config, ctx, note=steps.note)
        steps.finish(("base image", result.base_image))

    steps.start("repository", "the demo's repository: this checkout's HEAD on develop")
    origin = options.sandbox_dir / "demo" / "local" / f"{config.service.name}.git"
    repo = demo_repository.prepare(checkout, origin, options.run_dir / "repo",
                                   fresh=options.fresh_sandbox)
    result.repository = repo
    lines = [("repository", f"{repo.root} (develop at {repo.develop_sha()[:7]}, from "
                            f"{repo.head[:7]}); origin {repo.origin}")]
    if repo.merged:
        lines.append(("merged", f"the sandbox's earlier demo releases (main at "
                                f"{repo.merged[:7]}), so versions go on from them"))
    if repo.dirty:
        lines.append(("note", "the checkout has uncommitted changes, which the demo leaves "
                              "out: it releases commits"))
    steps.finish(*lines)

    def rehearsed(step: str, title: str, event: str, *, approve: bool,
                  ignore_paths: bool) -> bool:
        steps.start(step, title)
        number = len(result.rehearsals) + 1
        demo_repository.clean(repo)  # each job of GitHub's checks out a fresh tree
        report = rehearse(RehearseOptions(
            workflow=repo.root / workflow, event=EventOptions(event=event),
            workdir=options.run_dir / f"{number}-{event}", view=_JobLines(steps),
            sandbox_env=options.sandbox_env, approve=approve, ignore_paths=ignore_paths,
            run_timeout=options.timeout), ctx)
        result.rehearsals.append(report)
        release = _release(report, _urls(config, options.sandbox_env()))
        built_as = None
        if release is not None:
            release = replace(release,
                              supply_chain=_supply_chain(config, ctx, release.digest),
                              served={environment: _served(config, environment, url)
                                      for environment, url in release.environments.items()
                                      if url})
            built_as = next((r.version for r in result.releases
                             if r.digest == release.digest and not r.promoted), None)
            result.releases.append(release)
        ok = report.triggered and not report.failed
        summary = _rehearsal_summary(report, release, built_as)
        if ok and step == "push_develop":
            # HEAD's image as the build wrote it, where `push --from-oci` in the checkout
            # looks (its ignored build folder)
            summary += tuple(("layout", f"{path} (this checkout's HEAD)") for path in
                             demo_repository.export_layouts(
                                 repo, service_folder, config.build.output, checkout))
        steps.finish(*summary, ok=ok)
        if not ok:
            result.failure = failure_message(report)
        return ok

    # The first push carries the checkout as it is, whatever its last commit changed: the
    # workflow's paths filter is for the pushes after it.
    if not rehearsed("push_develop", "push to develop: test, build, staging, integration, "
                     "cleanup", "push-develop", approve=False, ignore_paths=True):
        return result
    demo_repository.merge_to_main(repo)
    if not rehearsed("merge_main", "develop merged to main: promote, staging, production "
                     "(blue/green, approved), integration, cleanup", "push-main", approve=True,
                     ignore_paths=True):
        return result
    demo_repository.second_commit(repo, service_folder, SECOND_COMMIT_LINE)
    rehearsed("second_main", "a second commit on main: the next version, through production",
              "push-main", approve=True, ignore_paths=False)
    return result


def _urls(config: Config, env: Mapping[str, str]) -> dict[str, str]:
    """Each environment's URL (its health.url, filled in from the sandbox's listeners)."""
    urls = {}
    for name in config.environments:
        health = config.environment(name).health
        try:
            urls[name] = expand_url("health.url", health.url, env) if health else ""
        except ShipyardError:
            urls[name] = ""
    return urls


def _release(report: Rehearsal, urls: Mapping[str, str]) -> Release | None:
    """The build job's outputs, where its deploy jobs put it, the integration job's
    reports."""
    jobs = {job.id: job for job in report.jobs}
    build = jobs.get("build")
    if build is None or build.result != "success" or not build.outputs.get("digest"):
        return None
    promoted = any(step.outputs.get("promoted") == "true" for step in build.steps)
    environments = {job.environment: job.url or urls.get(job.environment, "")
                    for job in report.jobs if job.environment and job.result == "success"}
    loadtest: dict[str, Any] | None = None
    reports: dict[str, str] = {}
    # The artifacts' copies: the clone's own reports are overwritten by the next rehearsal.
    artifacts = Path(report.workdir or "") / "artifacts"
    for folder in sorted(artifacts.glob("integration-reports-*")):
        environment = folder.name.removeprefix("integration-reports-")
        summary = next(folder.rglob(f"loadtest-{environment}/summary.json"), None)
        if summary is None:
            continue
        data = json.loads(summary.read_text())
        loadtest = {"environment": environment, "passed": data.get("passed"),
                    **{k: v for k, v in data.get("figures", {}).items() if k != "endpoints"}}
        for name, path in (data.get("reports") or {}).items():
            copy = summary.parent / Path(path).name
            if name in ("html", "plot", "summary", "stats_csv") and copy.exists():
                reports[name] = str(copy)
        for smoke in folder.rglob(f"smoke-{environment}.json"):
            reports["smoke"] = str(smoke)
    return Release(report.event, _sha(report),
                   build.outputs.get("version", ""), build.outputs.get("image", ""),
                   build.outputs.get("digest", ""), promoted, environments, loadtest,
                   reports)


def _supply_chain(config: Config, ctx: Context, digest: str) -> str:
    """What the build attached to the image, read back from the registry: its signatures
    and its SBOMs (nothing when the service signs nothing)."""
    if not config.signing.key:
        return ""
    from shipyard.config import PolicySettings
    from shipyard.usecases.policy import check_rules

    try:
        target = resolve_target(config, ctx)
        found = check_rules(PolicySettings(signed=True, sbom=config.ci.sbom), "demo", digest,
                            config, ctx, target)
    except ShipyardError as exc:
        return f"could not be read ({exc.message})"
    return "; ".join(("" if rule.passed else "NOT ") + rule.detail for rule in found.rules)


def _served(config: Config, environment: str, url: str) -> str:
    """The version `url` serves now, as the environment's health check reads it (its version
    endpoint and field), or '?' and why."""
    from shipyard.adapters.http_probe import HttpProbe, ProbeFailed
    from shipyard.usecases.deploy.health import VERSION_BODY_LIMIT, served_version

    settings = config.environments.get(environment)
    health = settings.health if settings is not None else None
    path, name = (health.version_path, health.version_field) if health else ("/version",
                                                                               "version")
    if not path:  # the environment checks no version
        return ""
    try:
        with HttpProbe() as probe:
            answer = probe.get(url.rstrip("/") + path, timeout=5.0, limit=VERSION_BODY_LIMIT)
    except ProbeFailed as exc:
        return f"? ({exc.what})"
    if not 200 <= answer.status < 300:
        return f"? ({path} answered {answer.status})"
    version, problem = served_version(answer, name)
    return version or f"? ({problem})"


def _sha(report: Rehearsal) -> str:
    path = Path(report.workdir or "") / "event.json"
    try:
        return str(json.loads(path.read_text()).get("after", ""))
    except (OSError, ValueError):
        return ""


def _rehearsal_summary(report: Rehearsal, release: Release | None,
                       built_as: str | None) -> Summary:
    """The rehearsal's jobs, then what it released; `built_as` is the version a promoted
    image was built as (the one it reports, as its label and /version say)."""
    if not report.triggered:
        return (("rehearsal", f"not triggered: {report.reason}"),)
    counts = {r: sum(job.result == r for job in report.jobs)
              for r in ("success", "failure", "skipped", "cancelled")}
    jobs = ", ".join(f"{n} {r}" for r, n in counts.items() if n)
    lines = [("jobs", f"{report.result}: {jobs} in {report.seconds:.0f}s; "
                      f"logs in {report.workdir}")]
    if release is None:
        return tuple(lines)
    how = "built and pushed"
    if release.promoted:
        how = "promoted: tags added to the image " + (
            f"built as {built_as}, which it still reports" if built_as else "built before")
    lines += [("version", f"{release.version}, {how}"),
              ("image", release.image or release.digest)]
    if release.supply_chain:
        lines.append(("supply chain", release.supply_chain))
    for environment, url in release.environments.items():
        served = release.served.get(environment)
        lines.append((environment, f"deployed {release.version}"
                      + (f", serves {served}" if served else "") + (f", {url}" if url else "")))
    if release.loadtest is not None:
        figures = release.loadtest
        verdict = "passed" if figures.get("passed") else "FAILED"
        lines.append(("load test", f"{figures['environment']} {verdict}: "
                                   f"{figures.get('requests', 0)} requests, "
                                   f"{figures.get('rps', 0):g}/s, p95 "
                                   f"{figures.get('p95_ms', 0):g} ms, p99 "
                                   f"{figures.get('p99_ms', 0):g} ms, errors "
                                   f"{100 * figures.get('error_rate', 0):g}%"))
    for name in ("html", "plot"):
        if name in release.reports:
            lines.append((f"report {name}", release.reports[name]))
    return tuple(lines)


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
