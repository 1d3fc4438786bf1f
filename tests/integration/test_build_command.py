"""`shipyard build` with buildah on the sandbox: a pull request's build. It pulls a private
base image from the sandbox's ECR (the login is AWS's), builds the image push would build, and
writes nothing anywhere but its layout folder: no registry write, no ECR repository, no git
tag. A build whose base needs no registry asks AWS nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OciLayout
from shipyard_testing.service_on_a_base import commit_service_on_a_base

pytestmark = pytest.mark.integration


def _world_state(ecr_client) -> list[tuple[str, list[tuple[str, tuple[str, ...]]]]]:
    """Every ECR repository with every image (digest and tags): what a write would change."""
    state = []
    for repository in ecr_client.describe_repositories()["repositories"]:
        name = repository["repositoryName"]
        images = ecr_client.describe_images(repositoryName=name)["imageDetails"]
        state.append((name, sorted((i["imageDigest"], tuple(sorted(i.get("imageTags", []))))
                                   for i in images)))
    return sorted(state)


def _config(layout: OciLayout) -> dict:
    digest = layout.images[0].config.digest
    return json.loads((layout.path / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())


def _project_files(repo) -> tuple:
    """The repository's state but for the layout folder, the one thing a build writes."""
    files, tags, status, head = repo.state()
    return ([f for f in files if "/.shipyard/" not in f[0]], tags,
            [line for line in status.splitlines() if ".shipyard/" not in line], head)


def test_build_pulls_a_private_base_and_writes_nothing_but_its_layout(
        repo, shipyard, sandbox_env, ecr_client, tmp_path: Path) -> None:
    target = sandbox_env["ECR_REPOSITORY"]
    base_layout = commit_service_on_a_base(repo, shipyard, target, tmp_path)
    outputs = tmp_path / "github_output"
    outputs.touch()
    before = (_project_files(repo), _world_state(ecr_client))

    result = shipyard(repo, "build", "--version", "2.0.0-pr.7", "--json",
                      env={"ECR_REPOSITORY": target, "GITHUB_OUTPUT": str(outputs)})

    assert result.code == 0, result.err
    built = result.json()
    assert built["pushed"] is False and built["version"] == "2.0.0-pr.7"
    layout = OciLayout.open(Path(built["layout"]))
    assert layout.digest == built["digest"] and layout.platforms == ["linux/amd64"]
    # the base's layer (by its uncompressed digest: buildah compresses anew) is the build's
    # lower layer: it was pulled from the sandbox's ECR
    config = _config(layout)
    assert config["rootfs"]["diff_ids"][0] == \
        _config(OciLayout.open(base_layout))["rootfs"]["diff_ids"][0]
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == "2.0.0-pr.7"
    # nothing written: no ECR repository or image, no git tag, no project file
    assert (_project_files(repo), _world_state(ecr_client)) == before
    assert target not in [name for name, _ in _world_state(ecr_client)]
    assert f"digest={built['digest']}" in outputs.read_text()
    assert f"layout={built['layout']}" in outputs.read_text()


def test_a_build_whose_base_needs_no_registry_asks_aws_nothing(repo, shipyard,
                                                               sandbox_env) -> None:
    repo.commit("service", Dockerfile="FROM scratch\nCOPY version.txt /\n")
    # an endpoint nothing answers on: any AWS call would fail the build
    result = shipyard(repo, "build", "--json", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                                                    "AWS_ACCOUNT_ID": ""})
    assert result.code == 0, result.err
    assert OciLayout.open(Path(result.json()["layout"])).digest == result.json()["digest"]


def test_a_build_that_fails_exits_10_and_leaves_no_layout(repo, shipyard, sandbox_env) -> None:
    repo.commit("service", Dockerfile="FROM scratch\nFRUM nothing\n")
    result = shipyard(repo, "build")
    assert result.code == 10, result.err
    output = repo.project / ".shipyard" / "oci"
    assert not output.exists() or not [p for p in output.iterdir()
                                       if not p.name.startswith(".")]
