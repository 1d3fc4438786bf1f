"""When git refuses to look at a repository, its reason is reported, not "not a repository"."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shipyard.adapters.git import Git
from shipyard.errors import GitError


def _init(folder: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    return folder


def test_a_folder_outside_any_repository_is_simply_not_one(tmp_path: Path) -> None:
    assert Git(tmp_path).is_repository() is False


def test_dubious_ownership_names_git_s_reason_and_the_safe_directory_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _init(tmp_path / "theirs")
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")  # git's own switch for this
    with pytest.raises(GitError, match="dubious ownership") as raised:
        Git(folder).is_repository()
    assert f"git config --global --add safe.directory {folder}" in raised.value.message
    assert "\n" not in raised.value.message


def test_another_refusal_says_what_git_said(tmp_path: Path) -> None:
    folder = _init(tmp_path / "future")
    subprocess.run(["git", "-C", str(folder), "config", "core.repositoryformatversion", "99"],
                   check=True)
    with pytest.raises(GitError, match="Expected git repo version <= 1, found 99"):
        Git(folder).require_repository()
