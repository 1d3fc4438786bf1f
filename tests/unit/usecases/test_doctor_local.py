"""`shipyard doctor`'s local and CI checks on real git repositories made for each test (no
AWS: the AWS group is tested on the sandbox), and that doctor writes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shipyard.domain.diagnosis import Diagnosis, Group
from shipyard.usecases.doctor.ci import check_ci
from shipyard.usecases.doctor.local import check_local


def statuses(diagnosis: Diagnosis) -> dict[str, str]:
    return {check.name: check.status for check in diagnosis.checks}


def run_local(project: Path, env: dict | None = None) -> Diagnosis:
    diagnosis = Diagnosis()
    check_local(Group("local", diagnosis), project, env or {})
    return diagnosis


def test_a_healthy_project_and_nothing_written(repo) -> None:
    repo.git("tag", "-a", "v1.0.0", "-m", "v1.0.0")
    before = repo.state()
    found = statuses(run_local(repo.project))
    assert found["config"] == found["git repository"] == found["git history"] == "ok"
    assert found["version file"] == "ok"
    assert repo.state() == before


def test_a_bad_config_fails_and_skips_what_needs_it(repo) -> None:
    (repo.project / "shipyard.toml").write_text("[service\n")
    diagnosis = run_local(repo.project)
    assert statuses(diagnosis)["config"] == "fail"
    assert statuses(diagnosis)["version file"] == statuses(diagnosis)["builder"] == "skipped"


def test_a_folder_outside_git(tmp_path: Path) -> None:
    (tmp_path / "version.txt").write_text("1.0.0\n")
    diagnosis = run_local(tmp_path)
    check = next(c for c in diagnosis.checks if c.name == "git repository")
    assert check.status == "fail" and "not in a git repository" in check.detail
    assert statuses(diagnosis)["git history"] == "skipped"


def test_a_shallow_clone_without_tags_fails_with_the_fetch_depth_fix(repo, tmp_path) -> None:
    repo.commit("second", app__py="print(2)\n")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(clone)],
                   check=True)
    diagnosis = run_local(clone / "svc")
    history = next(c for c in diagnosis.checks if c.name == "git history")
    assert history.status == "fail" and "fetch-depth: 0" in history.fix


def test_a_detached_head_warns_outside_ci_only(repo) -> None:
    repo.git("checkout", "-q", "--detach")
    assert statuses(run_local(repo.project))["git repository"] == "warn"
    assert statuses(run_local(repo.project, {"GITHUB_ACTIONS": "true"}))["git repository"] \
        == "ok"


def test_a_bad_version_file(repo) -> None:
    (repo.project / "version.txt").write_text("one point oh\n")
    check = next(c for c in run_local(repo.project).checks if c.name == "version file")
    assert check.status == "fail" and "version.txt" in check.detail + check.fix


def test_a_missing_builder_fails_with_the_install_fix(repo, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # neither buildah nor docker
    check = next(c for c in run_local(repo.project).checks if c.name == "builder")
    assert check.status == "fail" and "apt-get install buildah" in check.detail + check.fix


def ci_checks(project: Path, env: dict) -> dict[str, tuple[str, str]]:
    diagnosis = Diagnosis()
    check_ci(Group("ci", diagnosis), project, env)
    return {c.name: (c.status, c.fix) for c in diagnosis.checks}


def test_ci_checks_are_skipped_outside_github_actions(repo) -> None:
    assert {s for s, _ in ci_checks(repo.project, {}).values()} == {"skipped"}


def test_ci_checks_in_a_job(repo, tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.write_text("")
    job = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}
    assert {s for s, _ in ci_checks(repo.project, job).values()} == {"ok"}
    no_token = {k: v for k, v in job.items() if not k.startswith("ACTIONS_ID_TOKEN")}
    status, fix = ci_checks(repo.project, no_token)["id-token"]
    assert status == "fail" and "id-token: write" in fix
    assert ci_checks(repo.project, {**job, "GITHUB_OUTPUT": str(tmp_path / "no/such/dir/f")})[
        "outputs"][0] == "fail"
    assert output.read_text() == ""  # checked, never written


@pytest.fixture
def repo(repo):
    """The shared `repo` fixture with a minimal shipyard.toml."""
    (repo.project / "shipyard.toml").write_text('[service]\nname = "svc"\n')
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "config")
    return repo


def test_a_repository_another_user_owns_gives_the_safe_directory_fix(repo, monkeypatch
                                                                     ) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root: the test hands the repository to another user (chown)")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")  # no safe.directory of the machine's
    owner = os.stat(repo.root).st_uid
    subprocess.run(["chown", "-R", "12345", str(repo.root)], check=True)
    try:
        check = next(c for c in run_local(repo.project).checks if c.name == "git repository")
    finally:
        subprocess.run(["chown", "-R", str(owner), str(repo.root)], check=True)
    assert check.status == "fail" and "dubious ownership" in check.detail
    assert check.fix.startswith("git config --global --add safe.directory ")
