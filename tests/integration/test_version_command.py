"""`shipyard version` on real git repositories: every rule, CI context and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


# --- local checkouts ----------------------------------------------------------------------

def test_main_bumps_minor(repo, shipyard) -> None:
    result = shipyard(repo, "version", "--json")
    assert result.code == 0, result.err
    assert result.json() == {
        "version": "1.1.0", "previous": "1.0.0", "bump": "minor", "source": "branch",
        "branch": "main", "sha": repo.git("rev-parse", "HEAD"), "prerelease": False,
        "commit": None,
    }


def test_plain_output_is_the_version_alone_on_stdout(repo, shipyard) -> None:
    result = shipyard(repo, "version")
    assert result.out == "1.1.0\n"
    assert "minor bump for branch 'main'" in result.err


def test_develop_counts_commits_since_the_version_file_changed(repo, shipyard) -> None:
    repo.checkout("develop")
    repo.commit("one")
    repo.commit("two")
    assert shipyard(repo, "version").out == "1.0.1-develop.2\n"
    repo.commit("three")
    assert shipyard(repo, "version").out == "1.0.1-develop.3\n"


def test_reachable_release_tag_is_the_base_and_the_count_starts_there(repo, shipyard) -> None:
    repo.commit("feature")
    repo.tag("v1.3.0")
    repo.checkout("develop")
    repo.commit("a")
    repo.commit("b")
    result = shipyard(repo, "version", "--json").json()
    assert (result["version"], result["previous"]) == ("1.3.1-develop.2", "1.3.0")


def test_version_file_above_the_tags_wins(repo, shipyard) -> None:
    repo.tag("v1.3.0")
    repo.commit("bump file", version__txt="2.0.0\n")
    repo.checkout("develop")
    repo.commit("a")
    assert shipyard(repo, "version").out == "2.0.1-develop.1\n"


def test_tags_that_are_unreachable_prereleases_or_not_semver_do_not_count(repo, shipyard) -> None:
    repo.checkout("other")
    repo.commit("elsewhere")
    repo.tag("v5.0.0")  # not reachable from main
    repo.checkout("main", new=False)
    repo.commit("x")
    repo.tag("v3.0.0-rc.1", "HEAD~1")  # a prerelease is not a base
    repo.tag("vnext", "HEAD~1")  # not semver: ignored with a warning
    result = shipyard(repo, "version")
    assert result.out == "1.1.0\n"
    assert "ignored tags that are not 'v<semver>': vnext" in result.err


def test_release_tag_at_head(repo, shipyard) -> None:
    repo.commit("release")
    repo.tag("v1.4.0")
    result = shipyard(repo, "version", "--bump", "major", "--json").json()
    assert (result["version"], result["source"], result["bump"]) == ("1.4.0", "tag", "none")


def test_bump_and_manual(repo, shipyard) -> None:
    assert shipyard(repo, "version", "--bump", "major").out == "2.0.0\n"
    assert shipyard(repo, "version", "--bump", "patch").out == "1.0.1\n"
    manual = shipyard(repo, "version", "--version", "v3.0.0-rc.1", "--json").json()
    assert (manual["version"], manual["source"], manual["prerelease"]) == ("3.0.0-rc.1", "manual",
                                                                           True)


def test_feature_branch_and_detached_head(repo, shipyard) -> None:
    repo.checkout("Feature/Big_Change")
    repo.commit("x")
    assert shipyard(repo, "version").out == "1.0.1-feature-big-change.1\n"
    repo.git("checkout", "-q", "--detach")
    assert shipyard(repo, "version").out == "1.0.1-detached.1\n"


def test_project_dir_defaults_to_the_current_folder(repo, shipyard) -> None:
    assert shipyard(None, "version", cwd=repo.project).out == "1.1.0\n"


def test_configured_rules_and_prefix(repo, shipyard) -> None:
    repo.commit("config", shipyard__toml='[version]\ntag_prefix = "release-"\n'
                '[[version.branches]]\npattern = "release/*"\nbump = "patch"\n'
                '[[version.branches]]\npattern = "main"\nbump = "major"\n')
    repo.tag("release-1.2.0")
    repo.commit("after")
    assert shipyard(repo, "version").out == "2.0.0\n"
    repo.checkout("release/1.2")
    assert shipyard(repo, "version").out == "1.2.1\n"


# --- GitHub Actions contexts (the checkout is a detached HEAD) ----------------------------

def actions(event: str, ref: str, **extra: str) -> dict[str, str]:
    name = ref.split("/", 2)[2]
    kind = "tag" if ref.startswith("refs/tags/") else "branch"
    return {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": event,
            "GITHUB_REF": ref, "GITHUB_REF_NAME": name, "GITHUB_REF_TYPE": kind, **extra}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # push to main
        (actions("push", "refs/heads/main"), ("1.1.0", "branch", "main")),
        # push to develop: patch + develop.N (N = 2 commits since version.txt changed)
        (actions("push", "refs/heads/develop"), ("1.0.1-develop.2", "branch", "develop")),
        # pull request 7 from feature/x
        (actions("pull_request", "refs/pull/7/merge", GITHUB_HEAD_REF="feature/x",
                 GITHUB_REF_TYPE="branch"), ("1.0.1-pr-7.2", "branch", "feature/x")),
        # tag push
        (actions("push", "refs/tags/v1.7.0"), ("1.7.0", "tag", None)),
        # release published
        (actions("release", "refs/tags/v2.0.0"), ("2.0.0", "tag", None)),
        # a branch that matches no rule
        (actions("push", "refs/heads/hotfix/Crash"), ("1.0.1-hotfix-crash.2", "branch",
                                                       "hotfix/Crash")),
    ],
)
def test_actions_contexts(repo, shipyard, env, expected, tmp_path: Path) -> None:
    repo.commit("a")
    sha = repo.commit("b")
    repo.git("checkout", "-q", "--detach")
    output = tmp_path / "github_output"
    result = shipyard(repo, "version", "--json",
                      env={**env, "GITHUB_SHA": sha, "GITHUB_OUTPUT": str(output)})
    assert result.code == 0, result.err
    data = result.json()
    assert (data["version"], data["source"], data["branch"]) == expected
    assert data["sha"] == sha
    prerelease = "true" if "-" in expected[0] else "false"
    assert output.read_text() == f"version={expected[0]}\nprerelease={prerelease}\n"


def test_manual_dispatch_with_a_version(repo, shipyard) -> None:
    env = actions("workflow_dispatch", "refs/heads/main")
    data = shipyard(repo, "version", "--version", "4.1.0", "--json", env=env).json()
    assert (data["version"], data["source"], data["previous"]) == ("4.1.0", "manual", "1.0.0")


def test_step_summary(repo, shipyard, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    shipyard(repo, "version", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text().startswith("### Version 1.1.0\n")


def test_non_release_tag_ref_is_refused(repo, shipyard) -> None:
    before = repo.state()
    result = shipyard(repo, "version", "--write", env=actions("push", "refs/tags/nightly"))
    assert result.code == 2
    assert result.err == ("error: GITHUB_REF 'refs/tags/nightly' is not a release tag "
                          "'v<semver>'; tag releases like v1.2.3, or pass --version\n")
    assert repo.state() == before


def test_shallow_clone_warns(repo, shipyard, tmp_path: Path) -> None:
    repo.commit("a")
    repo.commit("b")
    clone = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.root}", str(clone))
    result = shipyard(None, "-C", str(clone / "svc"), "version")
    assert result.code == 0
    assert "shallow clone" in result.err and "fetch-depth: 0" in result.err


# --- writing the version file and the git tag ---------------------------------------------

def test_write_and_git_tag(repo, shipyard) -> None:
    before = repo.git("rev-parse", "HEAD")
    repo.write("notes.txt", "work in progress\n")
    repo.git("add", "svc/notes.txt")  # staged by the user: not part of the release commit
    result = shipyard(repo, "version", "--bump", "minor", "--write", "--git-tag")
    assert result.code == 0, result.err
    assert (repo.project / "version.txt").read_text() == "1.1.0\n"
    assert repo.git("cat-file", "-t", "v1.1.0") == "tag"  # annotated
    # the tag names a new commit whose version.txt holds the version it releases
    assert repo.git("rev-list", "-n1", "v1.1.0") == repo.git("rev-parse", "HEAD") != before
    assert repo.git("show", "v1.1.0:svc/version.txt") == "1.1.0"
    assert repo.git("log", "-1", "--format=%s") == "Release 1.1.0"
    assert repo.git("show", "--name-only", "--format=", "HEAD") == "svc/version.txt"
    assert repo.git("status", "--porcelain") == "A  svc/notes.txt"
    assert f"committed {repo.project / 'version.txt'} as" in result.err
    assert not list(repo.project.glob(".version.txt.*"))  # no temporary file left


def test_write_and_git_tag_refuse_during_a_merge(repo, shipyard) -> None:
    (repo.root / ".git" / "MERGE_HEAD").write_text(repo.git("rev-parse", "HEAD") + "\n")
    before = repo.state()
    result = shipyard(repo, "version", "--write", "--git-tag")
    assert result.code == 5 and "merge, rebase or cherry-pick is under way" in result.err
    assert repo.state() == before


def test_git_tag_alone_tags_head_and_commits_nothing(repo, shipyard) -> None:
    head = repo.git("rev-parse", "HEAD")
    result = shipyard(repo, "version", "--version", "1.0.0", "--write", "--git-tag")
    assert result.code == 0, result.err  # version.txt already holds 1.0.0: nothing to commit
    assert repo.git("rev-parse", "HEAD") == head == repo.git("rev-list", "-n1", "v1.0.0")


def test_git_tag_without_committer_identity(repo, shipyard, monkeypatch) -> None:
    repo.git("config", "--unset", "user.email")
    repo.git("config", "--unset", "user.name")
    monkeypatch.setenv("HOME", str(repo.root))  # no global identity either
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    result = shipyard(repo, "version", "--git-tag")
    assert result.code == 0, result.err
    assert repo.git("tag", "--list") == "v1.1.0"


def test_dry_run_writes_nothing(repo, shipyard) -> None:
    before = repo.state()
    result = shipyard(repo, "version", "--write", "--git-tag", "--dry-run")
    assert result.code == 0
    assert "would write" in result.err and "would create git tag v1.1.0" in result.err
    assert repo.state() == before


def test_existing_tag_is_a_conflict_and_nothing_changes(repo, shipyard) -> None:
    # another pipeline released 1.1.0 from a commit this branch does not contain
    repo.checkout("elsewhere")
    repo.commit("racing release")
    repo.tag("v1.1.0")
    repo.checkout("main", new=False)
    before = repo.state()
    result = shipyard(repo, "version", "--write", "--git-tag")
    assert result.code == 6
    assert result.err == ("error: git tag v1.1.0 already exists; this version is released, "
                          "choose another with --version or --bump\n")
    assert repo.state() == before


def test_write_refuses_a_prerelease(repo, shipyard) -> None:
    repo.checkout("develop")
    before = repo.state()
    result = shipyard(repo, "version", "--write")
    assert result.code == 2
    assert "--write needs a stable version X.Y.Z but 1.0.1-develop.0 has a prerelease" in result.err
    assert repo.state() == before


def test_write_refuses_build_metadata(repo, shipyard) -> None:
    before = repo.state()
    result = shipyard(repo, "version", "--version", "1.2.3+b7", "--write")
    assert result.code == 2 and "1.2.3+b7 has build metadata" in result.err
    assert repo.state() == before


def test_a_manual_version_on_a_non_release_tag_ref(repo, shipyard) -> None:
    env = actions("push", "refs/tags/nightly")
    data = shipyard(repo, "version", "--version", "2.0.0", "--json", env=env).json()
    assert (data["version"], data["source"]) == ("2.0.0", "manual")


def test_write_keeps_file_mode(repo, shipyard) -> None:
    path = repo.project / "version.txt"
    path.chmod(0o600)
    assert shipyard(repo, "version", "--write").code == 0
    assert path.stat().st_mode & 0o777 == 0o600


# --- bad input: one line, its exit code, nothing changed ----------------------------------

@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [
        # version file missing
        (lambda r: r.commit("rm", version__txt="") and (r.project / "version.txt").unlink(),
         [], 4, "version.txt is missing; create it holding the current release, such as 1.0.0"),
        # version file empty
        (lambda r: r.commit("empty", version__txt="\n"), [], 4,
         "version.txt is empty; write the current release in it, such as 1.0.0"),
        # version file not semver
        (lambda r: r.commit("bad", version__txt="1.0\n"), [], 4,
         "version.txt holds '1.0', not a stable version X.Y.Z; write one such as 1.0.0"),
        # version file a prerelease
        (lambda r: r.commit("pre", version__txt="1.0.0-rc.1\n"), [], 4,
         "holds '1.0.0-rc.1', not a stable version X.Y.Z"),
        # version file with a v
        (lambda r: r.commit("v", version__txt="v1.0.0\n"), [], 4, "holds 'v1.0.0'"),
        # --version not semver
        (None, ["--version", "1.2"], 2, "--version '1.2' is not a semantic version"),
        # --bump unknown part
        (None, ["--bump", "huge"], 2,
         "--bump 'huge' is not a version part; use major, minor or patch"),
        # --version and --bump together
        (None, ["--version", "1.2.3", "--bump", "minor"], 2, "contradict each other"),
        # unknown flag: click's usage error, still one line
        (None, ["--frobnicate"], 2, "No such option: --frobnicate"),
        # bad shipyard.toml
        (lambda r: r.write("shipyard.toml", "[version]\nbump = 1\n"), [], 3,
         "shipyard.toml: version.bump: unknown setting"),
    ],
)
def test_bad_input(repo, shipyard, setup, args, code, message) -> None:
    if setup:
        setup(repo)
    before = repo.state()
    result = shipyard(repo, "version", "--write", "--git-tag", *args)
    assert result.code == code, result.err
    assert message in result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert result.out == ""
    assert repo.state() == before


def test_not_a_git_repository(tmp_path: Path, shipyard) -> None:
    project = tmp_path / "plain"
    project.mkdir()
    (project / "version.txt").write_text("1.0.0\n")
    result = shipyard(None, "-C", str(project), "version")
    assert result.code == 5
    assert "is not inside a git repository; run it in a clone, or pass --version" in result.err
    # with --version it works, reporting the file's version as the previous one
    data = shipyard(None, "-C", str(project), "version", "--version", "1.2.0", "--json").json()
    assert (data["version"], data["previous"], data["branch"], data["sha"]) == (
        "1.2.0", "1.0.0", None, None)
    # but a git tag still needs a repository, and the file is left alone
    result = shipyard(None, "-C", str(project), "version", "--version", "1.2.0", "--write",
                      "--git-tag")
    assert result.code == 5
    assert (project / "version.txt").read_text() == "1.0.0\n"


def test_no_commits_yet(tmp_path: Path, shipyard) -> None:
    from subprocess import run

    run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "version.txt").write_text("1.0.0\n")
    result = shipyard(None, "-C", str(tmp_path), "version")
    assert result.code == 5
    assert "has no commits yet; commit first" in result.err
