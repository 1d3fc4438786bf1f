"""GitHub output files are checked before a command's work (issue 8, item 3).

An unusable `GITHUB_OUTPUT` or `GITHUB_STEP_SUMMARY` (a folder, a FIFO, a file in a folder that
does not exist) stops `version --write --git-tag` and `push` before they rewrite, tag, create or
push anything: exit 2, one line naming the variable, and nothing changed anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def unusable(kind: str, tmp_path: Path) -> Path:
    if kind == "folder":
        path = tmp_path / "summary-folder"
        path.mkdir()
    elif kind == "fifo":  # opening it for writing would block until someone reads
        path = tmp_path / "fifo"
        os.mkfifo(path)
    else:
        path = tmp_path / "no-such-folder" / "output"
    return path


KINDS = ["folder", "fifo", "missing-folder"]
PROBLEMS = {"folder": "is a folder, not a file", "fifo": "is not a regular file",
            "missing-folder": "is in a folder that does not exist"}


def assert_one_line(result, variable: str, path: Path, kind: str) -> None:
    assert result.code == 2, result.err
    assert result.out == ""
    assert result.err == (f"error: {variable} {path} {PROBLEMS[kind]}; point {variable} at a "
                          "writable file (in GitHub Actions, leave it as the runner sets it)\n")


@pytest.mark.parametrize("variable", ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"])
@pytest.mark.parametrize("kind", KINDS)
def test_version_write_and_tag_change_nothing(repo, shipyard, tmp_path, variable, kind) -> None:
    path = unusable(kind, tmp_path)
    before = repo.state()
    result = shipyard(repo, "version", "--write", "--git-tag", env={variable: str(path)})
    assert_one_line(result, variable, path, kind)
    assert repo.state() == before  # version.txt as it was, no commit, no tag


def test_version_with_usable_files_writes_them_after_its_work(repo, shipyard, tmp_path) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    result = shipyard(repo, "version", "--write", "--git-tag",
                      env={"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.code == 0, result.err
    assert result.out == "1.1.0\n"
    assert output.read_text() == "version=1.1.0\nprerelease=false\n"
    assert "v1.1.0" in repo.git("tag")


@pytest.mark.integration
@pytest.mark.parametrize("variable", ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"])
def test_push_pushes_nothing(repo, shipyard, sandbox_env, ecr_client, single_image_layout,
                             tmp_path, variable) -> None:
    path = unusable("folder", tmp_path)
    before = repo.state()
    result = shipyard(repo, "push", "--from-oci", str(single_image_layout),
                      env={variable: str(path)})
    assert_one_line(result, variable, path, "folder")
    assert repo.state() == before
    names = [r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"]]
    assert sandbox_env["ECR_REPOSITORY"] not in names
