"""Shared fixtures: real git repositories in temporary folders, and the CLI run in-process."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.call_log import disable_verbose
from shipyard.cli import main

# A fixed clock for commits, so dates in tags are known: 2026-03-04 05:06:07 UTC.
COMMIT_EPOCH = 1772600767


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide the CI context themselves; the runner's own must not leak in."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "RUNNER_", "SHIPYARD_")) or name == "CI":
            monkeypatch.delenv(name)


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


class Repo:
    """A git repository with a project folder, driven through the real `git` CLI."""

    def __init__(self, root: Path, project: str = "svc") -> None:
        self.root = root
        self.project = root / project if project else root
        self.project.mkdir(parents=True, exist_ok=True)
        self._clock = COMMIT_EPOCH
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Test")
        self.git("config", "user.email", "test@example.com")
        self.git("config", "commit.gpgsign", "false")
        self.git("config", "tag.gpgsign", "false")

    def git(self, *args: str) -> str:
        env = {**os.environ, "GIT_AUTHOR_DATE": f"@{self._clock} +0000",
               "GIT_COMMITTER_DATE": f"@{self._clock} +0000"}
        done = subprocess.run(["git", *args], cwd=self.root, env=env, check=True,
                              capture_output=True, text=True)
        return done.stdout.strip()

    def write(self, relative: str, text: str) -> Path:
        path = self.project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def commit(self, message: str = "change", **files: str) -> str:
        """Commit `files` (name=content, relative to the project); an empty commit if none."""
        for name, content in files.items():
            self.write(name.replace("__", "."), content)
        self._clock += 60
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, rev: str = "HEAD") -> None:
        self.git("tag", "-a", name, "-m", name, rev)

    def checkout(self, branch: str, new: bool = True) -> None:
        self.git("checkout", "-q", *(["-b"] if new else []), branch)

    def state(self) -> tuple:
        """Everything a command could change: files, tags, index, HEAD."""
        files = sorted(
            (str(p.relative_to(self.root)), p.read_bytes(), p.stat().st_mtime_ns)
            for p in self.root.rglob("*") if p.is_file() and ".git" not in p.parts
        )
        tags = subprocess.run(["git", "show-ref", "--tags"], cwd=self.root,
                              capture_output=True, text=True).stdout
        return files, tags, self.git("status", "--porcelain"), self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A repository whose project folder `svc/` holds version.txt 1.0.0, committed."""
    r = Repo(tmp_path / "repo")
    r.commit("initial", version__txt="1.0.0\n")
    return r


@pytest.fixture
def shipyard(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run the CLI in-process: shipyard(repo, "version", "--json", env={...}) -> Run."""

    def run(repo: Repo | None, *args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Run:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        prefix = ["-C", str(repo.project)] if repo is not None else []
        if cwd is not None:
            monkeypatch.chdir(cwd)
        try:
            code = main([*prefix, *args])
        finally:
            # -v's handler writes to this run's captured stderr; it must not outlive the run
            # (a later run's log records would hit a closed stream: "--- Logging error ---")
            disable_verbose()
        captured = capsys.readouterr()
        for key in env or {}:
            monkeypatch.delenv(key)
        return Run(code, captured.out, captured.err)

    return run


# --- the sandbox (registry + moto), shared by a test session ------------------------------

@pytest.fixture(scope="session")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session sandbox's state folder; its registry stores under `registry/storage`."""
    return tmp_path_factory.mktemp("sandbox")


@pytest.fixture(scope="session")
def sandbox(sandbox_dir: Path):
    """A running sandbox (`shipyard sandbox up` in a temporary state folder); its environment.

    One per session: starting one takes about two seconds. Tests stay apart by using their own
    repository names (see `sandbox_env`).
    """
    from shipyard_sandbox import control

    state_dir = sandbox_dir
    endpoints, _ = control.up(state_dir, region="ap-northeast-2")
    try:
        yield endpoints.environment()
    finally:
        control.down(state_dir)


@pytest.fixture
def sandbox_env(sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch, request) -> dict:
    """The sandbox's environment exported for this test, with a repository of its own."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:60].strip("-")
    env = {**sandbox, "ECR_REPOSITORY": f"t/{name}"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def ecr_client(sandbox_env: dict[str, str]):
    """A boto3 ECR client on the sandbox, to check what commands did."""
    import boto3

    return boto3.client("ecr", region_name=sandbox_env["AWS_REGION"])
