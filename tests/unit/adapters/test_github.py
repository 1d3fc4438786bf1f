"""GitHub Actions context from the environment, and step outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.adapters.github import ActionsContext, GitHubOutputs

BASE = {"GITHUB_ACTIONS": "true", "GITHUB_SHA": "a" * 40,
        "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/gamepulse"}


@pytest.mark.parametrize(
    ("env", "branch", "tag", "pr"),
    [
        # push to a branch
        ({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/develop",
          "GITHUB_REF_NAME": "develop", "GITHUB_REF_TYPE": "branch"}, "develop", None, None),
        # a branch name with slashes keeps them
        ({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/feature/a/b",
          "GITHUB_REF_NAME": "feature/a/b", "GITHUB_REF_TYPE": "branch"},
         "feature/a/b", None, None),
        # pull request: the head branch, and the number from refs/pull/N/merge
        ({"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/17/merge",
          "GITHUB_REF_NAME": "17/merge", "GITHUB_HEAD_REF": "feature/x"}, "feature/x", None, 17),
        # tag push
        ({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/tags/v1.2.3",
          "GITHUB_REF_NAME": "v1.2.3", "GITHUB_REF_TYPE": "tag"}, None, "v1.2.3", None),
        # release published: the ref is the release's tag
        ({"GITHUB_EVENT_NAME": "release", "GITHUB_REF": "refs/tags/v2.0.0",
          "GITHUB_REF_NAME": "v2.0.0", "GITHUB_REF_TYPE": "tag"}, None, "v2.0.0", None),
        # manual dispatch on a branch
        ({"GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REF": "refs/heads/main",
          "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch"}, "main", None, None),
    ],
)
def test_context(env: dict, branch, tag, pr) -> None:
    context = ActionsContext.from_env({**BASE, **env})
    assert context is not None
    assert (context.branch, context.tag, context.pull_request) == (branch, tag, pr)
    assert context.repository_url == "https://github.com/acme/gamepulse"


def test_outside_actions_there_is_no_context() -> None:
    assert ActionsContext.from_env({"GITHUB_REF": "refs/heads/main"}) is None
    assert ActionsContext.from_env({"GITHUB_ACTIONS": "false"}) is None


def test_outputs_append_and_do_nothing_when_unset(tmp_path: Path) -> None:
    out, summary = tmp_path / "out", tmp_path / "summary"
    out.write_text("earlier=1\n")
    outputs = GitHubOutputs({"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)})
    outputs.set(version="1.2.3", notes="two\nlines")
    outputs.summary("### hi")
    lines = out.read_text().splitlines()
    assert lines[:2] == ["earlier=1", "version=1.2.3"]
    opening, delimiter = lines[2].split("<<")
    assert opening == "notes" and delimiter.startswith("ghadelimiter_")
    assert lines[3:] == ["two", "lines", delimiter]  # closed by the same delimiter
    assert summary.read_text() == "### hi\n\n"
    GitHubOutputs({}).set(version="1")  # no files named: nothing happens, nothing raised
    GitHubOutputs({}).summary("x")
