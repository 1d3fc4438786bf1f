"""Doctor's local checks: the configuration, the git repository and the image builder."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from shipyard.config import Config
from shipyard.domain.diagnosis import Group
from shipyard.errors import ShipyardError


def check_local(group: Group, project_dir: Path, env: Mapping[str, str]) -> Config | None:
    """The local checks; the configuration when it loads (None otherwise)."""
    config = _config(group, project_dir)
    _git(group, project_dir, config, env)
    _builder(group, config)
    return config


def _config(group: Group, project_dir: Path) -> Config | None:
    from shipyard.config import load_config

    try:
        config = load_config(project_dir)
    except ShipyardError as exc:
        group.failed("config", exc.message, "fix shipyard.toml as the message says (shipyard "
                   "init writes a commented one)")
        return None
    where = config.source_file or project_dir
    group.ok("config", f"{where}: service {config.service.name}, "
                       f"{len(config.environments)} environments")
    return config


def _git(group: Group, project_dir: Path, config: Config | None,
         env: Mapping[str, str]) -> None:
    probe = _run_git(project_dir, "rev-parse", "--is-inside-work-tree")
    if probe.returncode != 0:
        text = probe.stderr.strip()
        if "dubious ownership" in text:
            group.fail("git repository", f"git refuses {project_dir}: another user owns it "
                       "(dubious ownership)", f"git config --global --add safe.directory "
                       f"{_top(text) or project_dir}")
        else:
            group.fail("git repository", f"{project_dir} is not in a git repository "
                       f"({text.splitlines()[-1] if text else 'git failed'})",
                       "run Shipyard in a clone of the service's repository (or pass "
                       "--version to commands that compute one)")
        group.skip("git history", "the git repository check failed")
        group.skip("version file", "the git repository check failed")
        return
    head = _run_git(project_dir, "rev-parse", "--verify", "-q", "HEAD")
    if head.returncode != 0:
        group.fail("git repository", "the repository has no commits yet", "commit first")
    else:
        branch = _run_git(project_dir, "symbolic-ref", "--short", "-q", "HEAD").stdout.strip()
        in_ci = env.get("GITHUB_ACTIONS") == "true"
        if branch or in_ci:
            group.ok("git repository", f"on {branch or 'a detached HEAD (CI checks out one)'}"
                     f" at {head.stdout.strip()[:12]}")
        else:
            group.warn("git repository", f"detached HEAD at {head.stdout.strip()[:12]}: "
                       "versioning rules match branches, so none applies",
                       "check out a branch (git switch main), or pass --version")
    _history(group, project_dir)
    _version_file(group, config)


def _history(group: Group, project_dir: Path) -> None:
    shallow = _run_git(project_dir, "rev-parse", "--is-shallow-repository").stdout.strip()
    tags = _run_git(project_dir, "tag", "--list", "v*").stdout.split()
    if shallow == "true":
        fix = ("fetch the whole history: git fetch --unshallow --tags (in GitHub Actions, "
               "actions/checkout with fetch-depth: 0)")
        if not tags:
            group.fail("git history", "a shallow clone without tags: the next version would "
                       "be computed from nothing, and commits since the release are unknown",
                       fix)
        else:
            group.warn("git history", f"a shallow clone ({len(tags)} release tags): commits "
                       "beyond its depth are not counted", fix)
        return
    group.ok("git history", f"the whole history, {len(tags)} release tags (v*)")


def _version_file(group: Group, config: Config | None) -> None:
    if config is None:
        group.skip("version file", "the configuration did not load")
        return
    from shipyard.usecases.version import read_version_file

    try:
        version = read_version_file(config.version_file)
    except ShipyardError as exc:
        group.failed("version file", exc.message, f"write a stable X.Y.Z into "
                   f"{config.version_file}")
        return
    group.ok("version file", f"{config.version_file.name}: {version}")


def _builder(group: Group, config: Config | None) -> None:
    if config is None:
        group.skip("builder", "the configuration did not load")
        return
    from shipyard.adapters.builders import choose_builder
    from shipyard.adapters.builders.request import emulator_registered, host_arch

    try:
        builder = choose_builder(config.build.builder)
    except ShipyardError as exc:
        group.failed("builder", exc.message, "install buildah (apt-get install buildah), or "
                   "set build.builder = \"docker\" with docker buildx; --from-oci pushes a "
                   "layout built elsewhere")
        return
    host = host_arch()
    wanted = dict.fromkeys([*config.build.platforms, *config.build.multi_arch_platforms])
    foreign = [p for p in wanted if p.split("/")[1:2] != [host]]
    emulated = [p for p in foreign if emulator_registered(p.split("/")[1])]
    missing = [p for p in foreign if p not in emulated]
    buildable = [p for p in wanted if p not in missing]
    detail = f"{builder.name} works; this machine ({host}) builds {', '.join(buildable)}"
    if missing:
        group.warn("builder", f"{detail}; not {', '.join(missing)}: no qemu emulator is "
                   "registered for them (a Dockerfile without RUN builds them anyway)",
                   "apt-get install qemu-user-static binfmt-support, or build those "
                   "platforms on a machine of their architecture")
    else:
        group.ok("builder", detail)


def _run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(["git", *args], 127, "", str(exc))


def _top(message: str) -> str:
    """The folder git names in its dubious-ownership message ('...repository at '/x'')."""
    marker = "repository at '"
    if marker in message:
        return message.split(marker, 1)[1].split("'", 1)[0]
    return ""
