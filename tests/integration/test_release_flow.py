"""The release flow commit after commit, on the sandbox: `push --git-tag` so the next commit
computes the next version, promotion of a commit's existing image without a rebuild, floating
tags that move while version tags never do, `latest` never going back, and a collision that
says what to do. Each was a failure reported in issue 11 before the flow existed."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def digest_of(ecr_client, env: dict, tag: str) -> str | None:
    """The digest ECR says `tag` names, None when no image has it."""
    try:
        found = ecr_client.describe_images(repositoryName=env["ECR_REPOSITORY"],
                                           imageIds=[{"imageTag": tag}])["imageDetails"]
    except ecr_client.exceptions.ImageNotFoundException:
        return None
    return found[0]["imageDigest"]


def git_tags(repo) -> dict[str, str]:
    """Every git tag and the commit it names."""
    names = repo.git("tag", "--list").split()
    return {name: repo.git("rev-parse", f"{name}^{{commit}}") for name in names}


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def release_then_push_a_new_commit(repo, shipyard, oci_layout_factory, version: str):
    """Push 1.1.0 from HEAD on main, then `version` from a new commit; both results."""
    first = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--json")
    assert first.code == 0, first.err
    repo.commit("next")
    second = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--version",
                      version, "--json")
    assert second.code == 0, second.err
    return first, second


def test_second_main_commit_untagged_collides_with_a_fix(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    assert shipyard(repo, "push", "--from-oci", str(oci_layout_factory())).code == 0
    first = digest_of(ecr_client, sandbox_env, "1.1.0")
    repo.commit("second")
    result = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()))
    assert result.code == 6, result.err
    assert "1.1.0 already points at" in result.err
    assert "make a new commit" in result.err and "--version" in result.err
    assert "v1.1.0" in result.err  # the git tag that would have moved the next commit on
    assert digest_of(ecr_client, sandbox_env, "latest") == first


def test_git_tag_gives_the_next_commit_the_next_version(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory, tmp_path: Path) -> None:
    first_commit = repo.git("rev-parse", "HEAD")
    output = tmp_path / "github_output"
    first = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--git-tag",
                     "--json", env={"GITHUB_OUTPUT": str(output)})
    assert first.code == 0, first.err
    assert (first.json()["git_tag"], first.json()["git_tag_created"]) == ("v1.1.0", True)
    assert git_tags(repo) == {"v1.1.0": first_commit}
    assert outputs(output)["git-tag"] == "v1.1.0"

    second_commit = repo.commit("second")
    second = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--git-tag")
    assert second.code == 0, second.err
    assert "version 1.2.0" in second.out and "git tag v1.2.0 created" in second.out
    assert git_tags(repo) == {"v1.1.0": first_commit, "v1.2.0": second_commit}
    # each version keeps its image; the floating tags follow the newest release
    assert digest_of(ecr_client, sandbox_env, "1.1") == first.json()["digest"]
    assert digest_of(ecr_client, sandbox_env, "1.2") == digest_of(
        ecr_client, sandbox_env, "latest") == digest_of(ecr_client, sandbox_env, "1.2.0")
    assert digest_of(ecr_client, sandbox_env, "1.1.0") == first.json()["digest"]

    # a re-run on the released commit finds its tag there and changes nothing
    again = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--git-tag")
    assert again.code == 0, again.err
    assert "git tag v1.2.0 already names this commit" in again.out
    assert git_tags(repo) == {"v1.1.0": first_commit, "v1.2.0": second_commit}


def test_git_tag_on_another_commit_stops_before_writes(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    repo.tag("v3.0.0")
    repo.commit("next")
    before = repo.state()
    result = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--version",
                      "3.0.0", "--git-tag")
    assert result.code == 6, result.err
    assert "git tag v3.0.0 already names commit" in result.err
    assert "make a new commit, or pass --version" in result.err
    repositories = ecr_client.describe_repositories()["repositories"]
    assert sandbox_env["ECR_REPOSITORY"] not in [r["repositoryName"] for r in repositories]
    assert repo.state() == before


def test_a_prerelease_is_not_tagged_in_git(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    repo.checkout("develop")
    repo.commit("feature")
    result = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--git-tag",
                      "--json")
    assert result.code == 0, result.err
    assert result.json()["version"] == "1.0.1-develop.1"
    assert (result.json()["git_tag"], result.json()["git_tag_created"]) == (None, False)
    assert git_tags(repo) == {}


def test_develop_image_is_promoted_on_main_unbuilt(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory, tmp_path: Path) -> None:
    repo.checkout("develop")
    # A build of this Dockerfile fails (its base is nowhere): the push on main must not build.
    commit = repo.commit("feature", Dockerfile="FROM 127.0.0.1:9/absent:1\n")
    built = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--json")
    assert built.code == 0, built.err
    develop_image = built.json()["digest"]
    repo.checkout("main", new=False)
    repo.git("merge", "-q", "--ff-only", "develop")

    dry = shipyard(repo, "push", "--dry-run", "--git-tag")
    assert dry.code == 0, dry.err
    assert "promoted: sha-" in dry.out and "would be added" in dry.out
    assert "git tag v1.1.0 would be created" in dry.out
    assert git_tags(repo) == {} and digest_of(ecr_client, sandbox_env, "1.1.0") is None

    output = tmp_path / "github_output"
    promoted = shipyard(repo, "push", "--git-tag", "--json", env={"GITHUB_OUTPUT": str(output)})
    assert promoted.code == 0, promoted.err
    data = promoted.json()
    assert data["promoted"] is True and data["promoted_from"] == f"sha-{commit[:7]}"
    assert data["digest"] == develop_image and data["version"] == "1.1.0"
    assert data["pushed_blobs"] == 0
    assert sorted(data["tags_set"]) == ["1.1", "1.1.0", "latest"]
    for tag in ("1.1.0", "1.1", "latest", f"sha-{commit[:7]}", "1.0.1-develop.1"):
        assert digest_of(ecr_client, sandbox_env, tag) == develop_image, tag
    assert git_tags(repo) == {"v1.1.0": commit}
    found = outputs(output)
    assert found["promoted"] == "true" and found["image"].endswith(f"@{develop_image}")
    text = shipyard(repo, "push")  # the same again, as text: the tags are all there
    assert text.code == 0, text.err
    assert "it has 1.1.0's tags already, nothing is built" in text.out
    assert "tag 1.1.0: already points at this image" in text.out


def test_commit_image_promoted_over_another_layout(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    first = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--version",
                     "1.0.5", "--json")
    assert first.code == 0, first.err
    # a layout of two platforms: the commit's image (amd64 only) is promoted as it was built
    second = shipyard(repo, "push", "--from-oci",
                      str(oci_layout_factory(("linux/amd64", "linux/arm64"))), "--version",
                      "1.1.0")
    assert second.code == 0, second.err
    assert "promoted: sha-" in second.out and "nothing is built or uploaded" in second.out
    assert "has linux/amd64, not linux/arm64: it is promoted as it was built" in second.err
    assert "platforms linux/amd64\n" in second.out
    assert digest_of(ecr_client, sandbox_env, "1.1.0") == first.json()["digest"]


def test_patch_moves_minor_tag_never_a_version_tag(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    first, patch = release_then_push_a_new_commit(repo, shipyard, oci_layout_factory, "1.1.1")
    assert patch.json()["version"] == "1.1.1"
    assert digest_of(ecr_client, sandbox_env, "1.1") == patch.json()["digest"]
    assert digest_of(ecr_client, sandbox_env, "1.1.0") == first.json()["digest"]
    assert "immutable" not in patch.err

    # The registry itself, asked by another client: a version tag cannot be moved, a
    # floating one can.
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    creds = base64.b64decode(token).decode()
    base = f"docker://{sandbox_env['SHIPYARD_REGISTRY']}/{sandbox_env['ECR_REPOSITORY']}"

    def copy(source: str, target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["skopeo", "copy", "--src-tls-verify=false",
                               "--dest-tls-verify=false", "--src-creds", creds,
                               "--dest-creds", creds, f"{base}:{source}", f"{base}:{target}"],
                              capture_output=True, text=True, check=False)

    refused = copy("1.1.1", "1.1.0")
    assert refused.returncode != 0 and "immutable" in refused.stderr.lower(), refused.stderr
    assert digest_of(ecr_client, sandbox_env, "1.1.0") == first.json()["digest"]
    moved = copy("1.1.0", "1.1")
    assert moved.returncode == 0, moved.stderr
    assert digest_of(ecr_client, sandbox_env, "1.1") == first.json()["digest"]


def test_latest_never_moves_back(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    first, old = release_then_push_a_new_commit(repo, shipyard, oci_layout_factory, "0.9.0")
    assert "latest stays on 1.1.0: it never moves back to a lower version (0.9.0)" in old.err
    assert old.json()["tags_held"] == ["latest"]
    assert "latest" not in old.json()["tags_set"]
    assert digest_of(ecr_client, sandbox_env, "latest") == first.json()["digest"]
    assert digest_of(ecr_client, sandbox_env, "0.9") == old.json()["digest"]
    text = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--version",
                    "0.9.0", "--dry-run")
    assert "tag latest: not moved (latest stays on 1.1.0" in text.out
