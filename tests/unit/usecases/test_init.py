"""`init_project` when the disk fails halfway: the folder is left as it was."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from shipyard.adapters.files import stage_file
from shipyard.errors import UsageError
from shipyard.usecases import init
from shipyard.usecases.init import InitOptions, init_project


def test_a_failed_write_leaves_no_file_no_folder_and_no_temporary(tmp_path: Path,
                                                                  monkeypatch) -> None:
    staged: list[Path] = []

    def third_fails(path: Path, text: str, mode: int | None = None) -> Path:
        if len(staged) == 2:  # shipyard.toml and version.txt staged, then the disk is full
            path.parent.mkdir(parents=True, exist_ok=True)  # as stage_file does first
            raise OSError(errno.ENOSPC, "No space left on device")
        staged.append(stage_file(path, text, mode))
        return staged[-1]

    monkeypatch.setattr(init, "stage_file", third_fails)
    with pytest.raises(UsageError, match=r"\(No space left on device\); nothing was written"):
        init_project(InitOptions(name="orders"), tmp_path)
    assert len(staged) == 2
    assert list(tmp_path.iterdir()) == []  # no deploy/, no staged temporaries


def test_dry_run_returns_every_file_and_writes_none(tmp_path: Path) -> None:
    result = init_project(InitOptions(name="orders", dry_run=True), tmp_path)
    assert list(result.files) == ["shipyard.toml", "version.txt",
                                  "deploy/ecs-task-definition-staging.json",
                                  "deploy/ecs-task-definition-production.json",
                                  "deploy/appspec.yml"]
    assert list(tmp_path.iterdir()) == []
