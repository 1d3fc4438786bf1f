"""GitHubOutputs.check(): what it refuses without changing anything, and a write that fails
after the check says the command's work was done (issue 8, item 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipyard.adapters.github import GitHubOutputs
from shipyard.errors import UsageError


def test_a_usable_existing_file_and_a_creatable_one_pass_untouched(tmp_path: Path) -> None:
    existing = tmp_path / "output"
    existing.write_text("kept=1\n")
    mtime = existing.stat().st_mtime_ns
    created = tmp_path / "summary.md"
    GitHubOutputs({"GITHUB_OUTPUT": str(existing),
                   "GITHUB_STEP_SUMMARY": str(created)}).check()
    assert existing.read_text() == "kept=1\n" and existing.stat().st_mtime_ns == mtime
    assert not created.exists()  # checking creates nothing
    GitHubOutputs({"GITHUB_OUTPUT": os.devnull}).check()  # a common local stand-in
    GitHubOutputs({}).check()  # outside Actions there is nothing to check


@pytest.mark.parametrize(("make", "problem"), [
    (lambda p: p.mkdir(), "is a folder, not a file"),
    (lambda p: os.mkfifo(p), "is not a regular file"),
    (lambda p: None, "is in a folder that does not exist"),
])
def test_unusable_files_are_named(tmp_path: Path, make, problem) -> None:
    path = tmp_path / "out"
    if problem.startswith("is in a folder"):
        path = tmp_path / "missing" / "out"
    else:
        make(path)
    with pytest.raises(UsageError) as caught:
        GitHubOutputs({"GITHUB_STEP_SUMMARY": str(path)}).check()
    assert caught.value.message.startswith(f"GITHUB_STEP_SUMMARY {path} {problem}; ")


def test_a_file_under_a_file_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(UsageError, match=r"GITHUB_OUTPUT .* cannot be reached"):
        GitHubOutputs({"GITHUB_OUTPUT": str(plain / "out")}).check()


def test_a_write_failing_after_the_check_says_the_work_was_done(tmp_path: Path) -> None:
    path = tmp_path / "output"
    outputs = GitHubOutputs({"GITHUB_OUTPUT": str(path)})
    outputs.check()
    path.mkdir()  # changed between the check and the write
    with pytest.raises(UsageError) as caught:
        outputs.set(version="1.2.3")
    assert "after the command's work was done" in caught.value.message
    assert "\n" not in caught.value.message
