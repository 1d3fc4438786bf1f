"""`shipyard tags` on real git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DATE = "20260304"  # the fixture's commit clock (2026-03-04 UTC)


def test_main_gets_latest_on_auto(repo, shipyard, tmp_path: Path) -> None:
    output = tmp_path / "out"
    result = shipyard(repo, "tags", "--json", env={"GITHUB_OUTPUT": str(output)})
    assert result.code == 0, result.err
    short = repo.git("rev-parse", "--short=7", "HEAD")
    data = result.json()
    assert data["tags"] == ["1.1.0", "1.1", "latest", f"sha-{short}", f"{DATE}-{short}"]
    assert data["labels"]["org.opencontainers.image.version"] == "1.1.0"
    assert data["labels"]["org.opencontainers.image.revision"] == repo.git("rev-parse", "HEAD")
    assert data["labels"]["org.opencontainers.image.created"].startswith("2026-03-04T")
    assert output.read_text() == f"tags=1.1.0,1.1,latest,sha-{short},{DATE}-{short}\n"


def test_develop_prerelease_and_refused_latest(repo, shipyard) -> None:
    repo.checkout("develop")
    repo.commit("x")
    result = shipyard(repo, "tags", "--latest")
    assert result.code == 0
    short = repo.git("rev-parse", "--short=7", "HEAD")
    tag_lines = [line for line in result.out.splitlines() if line.startswith("tag ")]
    assert tag_lines == ["tag 1.0.1-develop.1", f"tag sha-{short}", f"tag {DATE}-{short}"]
    assert "warning: --latest ignored: 1.0.1-develop.1 is a prerelease" in result.err


def test_release_tag_earns_latest_and_manual_version_on_feature_branch_does_not(
        repo, shipyard) -> None:
    repo.tag("v1.0.0")
    assert "latest" in shipyard(repo, "tags", "--json").json()["tags"]
    repo.checkout("feature/a")
    repo.commit("x")
    tags = shipyard(repo, "tags", "--version", "9.9.9", "--json").json()["tags"]
    assert tags[:2] == ["9.9.9", "9.9"] and "latest" not in tags


def test_major_tag_when_configured(repo, shipyard) -> None:
    repo.commit("cfg", shipyard__toml='[tags]\nmajor = true\nlatest = false\n')
    tags = shipyard(repo, "tags", "--bump", "major", "--json").json()["tags"]
    assert tags[:3] == ["2.0.0", "2.0", "2"] and "latest" not in tags


def test_source_label_from_remote_without_credentials(repo, shipyard) -> None:
    repo.git("remote", "add", "origin", "https://user:s3cr3t-token@github.com/acme/gamepulse.git")
    result = shipyard(repo, "tags", "--json")
    assert result.json()["labels"]["org.opencontainers.image.source"] == (
        "https://github.com/acme/gamepulse")
    assert "s3cr3t" not in result.out + result.err


def test_source_label_in_actions(repo, shipyard) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
           "GITHUB_REF_TYPE": "branch", "GITHUB_EVENT_NAME": "push",
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/gp"}
    labels = shipyard(repo, "tags", "--json", env=env).json()["labels"]
    assert labels["org.opencontainers.image.source"] == "https://github.com/acme/gp"


def test_tags_need_a_repository_even_with_a_version(tmp_path: Path, shipyard) -> None:
    (tmp_path / "version.txt").write_text("1.0.0\n")
    result = shipyard(None, "-C", str(tmp_path), "tags", "--version", "1.0.0")
    assert result.code == 5
    assert "is not inside a git repository" in result.err


def test_step_summary_lists_tags(repo, shipyard, tmp_path: Path) -> None:
    summary = tmp_path / "summary"
    shipyard(repo, "tags", env={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert "### Image tags for 1.1.0" in text and "| `latest` |" in text
