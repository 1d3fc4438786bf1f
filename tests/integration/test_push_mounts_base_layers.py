"""`shipyard push` with a real buildah build FROM a base image in the sandbox's registry: the
pushed image's lower layer is the base's blob, mounted from its repository, not uploaded."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OciLayout
from shipyard_testing.service_on_a_base import commit_service_on_a_base

pytestmark = pytest.mark.integration


def skopeo(*args: str) -> bytes:
    done = subprocess.run(["skopeo", *args], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


@pytest.fixture
def blob_mounting(ecr_client):
    """ECR's BLOB_MOUNTING on for the test (off by default in ECR and in the sandbox)."""
    ecr_client.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    try:
        yield
    finally:
        ecr_client.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")


def creds(ecr_client) -> str:
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode()


def build_on_a_base(repo, shipyard, target: str, tmp_path: Path) -> tuple[dict, Path, str]:
    """Push a one-layer base to `<target>-base`, then `shipyard push` a build FROM it to
    `target`: the push's JSON, the built layout's folder, and the base's layer digest."""
    base_layout = commit_service_on_a_base(repo, shipyard, target, tmp_path)
    result = shipyard(repo, "push", "--json", env={"ECR_REPOSITORY": target})
    assert result.code == 0, result.err
    (built,) = [path for path in (repo.project / ".shipyard" / "oci").iterdir()
                if path.is_dir() and not path.name.startswith(".")]  # not its lock file
    return result.json(), built, OciLayout.open(base_layout).images[0].layers[0].digest


def test_push_mounts_the_base_layers_of_a_build(repo, shipyard, sandbox_env, ecr_client,
                                                tmp_path: Path, blob_mounting) -> None:
    registry, target = sandbox_env["SHIPYARD_REGISTRY"], sandbox_env["ECR_REPOSITORY"]
    data, built, base_blob = build_on_a_base(repo, shipyard, target, tmp_path)
    # the base's layer was mounted; the build's own layer and config were uploaded
    assert (data["mounted_blobs"], data["pushed_blobs"], data["skipped_blobs"]) == (1, 3, 0)

    manifest = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", "--creds",
                                 creds(ecr_client),
                                 f"docker://{registry}/{target}@{data['digest']}"))
    assert manifest["layers"][0]["digest"] == base_blob
    # buildah's own copy of that layer stays on disk, unused; the base's blob is not there
    layout = OciLayout.open(built)
    assert layout.digest == data["digest"] and layout.external == {base_blob}
    assert (layout.base_name or "").startswith(f"{registry}/{target}-base@sha256:")
    # the image is whole: a copy out of the registry succeeds and is the pushed image
    copy = tmp_path / "copy"
    skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds(ecr_client),
           f"docker://{registry}/{target}@{data['digest']}", f"oci:{copy}")
    assert OciLayout.open(copy).digest == data["digest"]


def test_no_blob_mounting_pushes_the_build_as_built(
        repo, shipyard, sandbox_env, ecr_client, tmp_path: Path) -> None:
    """ECR's default: no mounts. The push warns and pushes the image as buildah built it."""
    registry, target = sandbox_env["SHIPYARD_REGISTRY"], sandbox_env["ECR_REPOSITORY"]
    data, built, base_blob = build_on_a_base(repo, shipyard, target, tmp_path)
    assert (data["mounted_blobs"], data["pushed_blobs"]) == (0, 3)
    # the layout left on disk is the image that was pushed, so --from-oci pushes it again
    assert OciLayout.open(built).digest == data["digest"] and not OciLayout.open(built).external
    manifest = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", "--creds",
                                 creds(ecr_client), f"docker://{registry}/{target}:latest"
                                 if "latest" in data["tags"] else
                                 f"docker://{registry}/{target}@{data['digest']}"))
    assert manifest["layers"][0]["digest"] != base_blob  # buildah's own copy of the layer
    copy = tmp_path / "copy"
    skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds(ecr_client),
           f"docker://{registry}/{target}@{data['digest']}", f"oci:{copy}")
    assert OciLayout.open(copy).digest == data["digest"]  # the pushed image is whole


def test_push_from_oci_of_such_a_build(repo, shipyard, sandbox_env, ecr_client,
                                       tmp_path: Path, blob_mounting) -> None:
    target = sandbox_env["ECR_REPOSITORY"]
    data, built, base_blob = build_on_a_base(repo, shipyard, target, tmp_path)
    # to another repository: the layer the layout lacks is mounted from the base it names
    again = shipyard(repo, "push", "--from-oci", str(built), "--json",
                     env={"ECR_REPOSITORY": f"{target}-copy"})
    assert again.code == 0, again.err
    assert again.json()["digest"] == data["digest"]
    assert (again.json()["mounted_blobs"], again.json()["pushed_blobs"]) == (1, 3)

    # a layout naming a base the registry does not have: refused before anything is written
    index_json = built / "index.json"
    entries = json.loads(index_json.read_text())
    entries["manifests"][0]["annotations"]["org.opencontainers.image.base.name"] = (
        f"{sandbox_env['SHIPYARD_REGISTRY']}/nobody/here:1")
    index_json.write_text(json.dumps(entries))
    before = repo.state()
    refused = shipyard(repo, "push", "--from-oci", str(built),
                       env={"ECR_REPOSITORY": f"{target}-elsewhere"})
    assert refused.code == 2
    assert refused.err == (
        f"error: OCI layout {built} does not hold layer {base_blob}, a blob of its base image "
        f"{sandbox_env['SHIPYARD_REGISTRY']}/nobody/here:1, and "
        f"{sandbox_env['SHIPYARD_REGISTRY']} has it in neither {target}-elsewhere nor "
        f"nobody/here; push the base image to {sandbox_env['SHIPYARD_REGISTRY']} first, or "
        "build the image again\n")
    assert repo.state() == before
    names = [r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"]]
    assert f"{target}-elsewhere" not in names
