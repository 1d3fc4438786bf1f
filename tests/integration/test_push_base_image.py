"""GamePulse pushes to the sandbox with nothing exported but the sandbox's environment: its
base image is `${registry}/gamepulse-base:bookworm`, the registry it pushes to."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

GAMEPULSE = Path(__file__).resolve().parents[2] / "GamePulse"


def test_gamepulse_dry_run_needs_no_base_image_variable(repo, shipyard, sandbox_env,
                                                        monkeypatch) -> None:
    shutil.copytree(GAMEPULSE, repo.project, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".shipyard", ".build", "__pycache__"))
    repo.commit("GamePulse")
    monkeypatch.delenv("GAMEPULSE_BASE_IMAGE", raising=False)
    result = shipyard(repo, "push", "--dry-run", "--version", "1.2.3", "--json")
    assert result.code == 0, result.err
    assert result.json()["dry_run"] is True
    assert not (repo.project / ".shipyard").exists()  # a dry run writes nothing


def test_a_misspelt_target_name_is_a_config_error(repo, shipyard, sandbox_env,
                                                  ecr_client) -> None:
    repo.commit(Dockerfile="FROM scratch\n",
                shipyard__toml='[build.args]\nBASE = "${regsitry}/base:1"\n')
    before = repo.state()
    result = shipyard(repo, "push", "--version", "1.2.3")
    assert result.code == 3
    assert result.err.startswith("error: build arg BASE uses ${regsitry}, which is not a name")
    assert repo.state() == before
    names = [r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"]]
    assert sandbox_env["ECR_REPOSITORY"] not in names
