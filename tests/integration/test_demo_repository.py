"""The demo's own repository, with real git: a clone of the checkout's HEAD on develop, an
origin that outlives the run, commits that repeat, and a checkout that is never touched."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shipyard.usecases import demo_repository

pytestmark = pytest.mark.integration


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@t", *args],
                          cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "svc").mkdir(parents=True)
    (root / "svc" / "version.txt").write_text("1.0.0\n")
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def state(checkout: Path) -> tuple[str, str, str, str]:
    return (git(checkout, "rev-parse", "HEAD"), git(checkout, "branch", "--show-current"),
            git(checkout, "tag"), git(checkout, "status", "--porcelain"))


def release(tmp_path: Path, checkout: Path, run: str, *, fresh: bool
            ) -> tuple[demo_repository.DemoRepository, str, str]:
    origin = tmp_path / "sandbox" / "origin.git"
    repo = demo_repository.prepare(checkout, origin, tmp_path / run / "repo", fresh=fresh)
    main = demo_repository.merge_to_main(repo)
    git(repo.root, "tag", "-a", f"v-{run}", "-m", run)  # as the build job's --git-tag does
    git(repo.root, "push", "-q", "origin", f"v-{run}")
    second = demo_repository.second_commit(repo, Path("svc"), "the second commit")
    return repo, main, second


def test_a_run_releases_the_checkout_s_head_and_leaves_the_checkout_alone(
        tmp_path: Path, checkout: Path) -> None:
    (checkout / "svc" / "version.txt").write_text("9.9.9\n")  # uncommitted: left out
    before = state(checkout)
    repo, main, second = release(tmp_path, checkout, "one", fresh=True)
    assert repo.head == main == git(checkout, "rev-parse", "HEAD")  # fast-forward: HEAD
    assert repo.merged is None and repo.dirty
    assert (repo.root / "svc" / "version.txt").read_text() == "1.0.0\n"
    assert git(repo.root, "rev-parse", "HEAD^") == main
    assert git(repo.root, "log", "-1", "--format=%an %s") == (
        "Shipyard demo fix: the second commit")
    assert "svc/DEMO-RELEASES.md" in git(repo.root, "show", "--name-only", "--format=", second)
    heads = git(repo.origin, "for-each-ref", "--format=%(refname) %(objectname)")
    assert f"refs/heads/main {second}" in heads and f"refs/heads/develop {main}" in heads
    assert state(checkout) == before


def test_the_same_head_on_a_fresh_sandbox_makes_the_same_commits(
        tmp_path: Path, checkout: Path) -> None:
    _, main, second = release(tmp_path, checkout, "one", fresh=True)
    again, main_again, second_again = release(tmp_path, checkout, "two", fresh=True)
    assert (main_again, second_again) == (main, second) and again.merged is None
    assert "v-one" not in git(again.root, "tag")  # a fresh origin holds no earlier release


def test_a_kept_sandbox_s_releases_are_merged_in_so_versions_go_on(
        tmp_path: Path, checkout: Path) -> None:
    _, _, second = release(tmp_path, checkout, "one", fresh=True)
    git(checkout, "commit", "-q", "--allow-empty", "-m", "the user's next commit")
    repo, main, _ = release(tmp_path, checkout, "two", fresh=False)
    assert repo.merged == second
    # develop holds the checkout's files and reaches the earlier release's tag
    assert git(repo.root, "rev-parse", f"{main}^2") == second
    assert git(repo.root, "rev-parse", f"{main}^1") == git(checkout, "rev-parse", "HEAD")
    assert "v-one" in git(repo.root, "tag", "--merged", main).split()
    assert git(repo.root, "diff", "--stat", git(checkout, "rev-parse", "HEAD"), main) == ""


def test_outside_a_repository_is_a_git_error(tmp_path: Path) -> None:
    from shipyard.errors import GitError

    with pytest.raises(GitError, match="rev-parse"):
        demo_repository.checkout_root(tmp_path)


def test_head_s_layouts_are_copied_to_the_checkout_only_when_develop_is_head(
        tmp_path: Path, checkout: Path) -> None:
    repo, _, _ = release(tmp_path, checkout, "one", fresh=True)
    layout = repo.root / "svc" / ".shipyard/oci/1.0.1-develop.1-abcdef12"
    (layout / "blobs").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout.parent / "not-a-layout").mkdir()
    copied = demo_repository.export_layouts(repo, Path("svc"), Path(".shipyard/oci"), checkout)
    assert copied == [checkout / "svc/.shipyard/oci/1.0.1-develop.1-abcdef12"]
    assert (copied[0] / "oci-layout").is_file()
    git(checkout, "commit", "-q", "--allow-empty", "-m", "next")
    merged, _, _ = release(tmp_path, checkout, "two", fresh=False)
    assert merged.merged is not None
    assert demo_repository.export_layouts(merged, Path("svc"), Path(".shipyard/oci"),
                                          tmp_path / "elsewhere") == []
