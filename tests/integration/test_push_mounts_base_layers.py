"""`shipyard push` with a real buildah build FROM a base image in the sandbox's registry: the
pushed image's lower layer is the base's blob, mounted from its repository, not uploaded."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OciLayout
from shipyard_testing.oci_layouts import write_oci_layout
from shipyard_testing.rebuilt_layers import text_layer

pytestmark = pytest.mark.integration


def skopeo(*args: str) -> bytes:
    done = subprocess.run(["skopeo", *args], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def creds(ecr_client) -> str:
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode()


def test_push_mounts_the_base_layers_of_a_build(repo, shipyard, sandbox_env, ecr_client,
                                                tmp_path: Path) -> None:
    if shutil.which("buildah") is None:
        pytest.fail("buildah is not installed; run dev/bootstrap")
    registry, target = sandbox_env["SHIPYARD_REGISTRY"], sandbox_env["ECR_REPOSITORY"]
    base_repository = f"{target}-base"
    base_layout = write_oci_layout(tmp_path / "base", base=None, ref_name=None,
                                   layers=[text_layer("etc/os-release", "ID=debian")])
    pushed_base = shipyard(repo, "push", "--from-oci", str(base_layout), "--json",
                           env={"ECR_REPOSITORY": base_repository})
    assert pushed_base.code == 0, pushed_base.err
    base_digest = pushed_base.json()["digest"]
    base_blob = OciLayout.open(base_layout).images[0].layers[0]

    repo.commit("service", Dockerfile="ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"
                "COPY hello.txt /srv/hello.txt\n", hello__txt="hello\n",
                shipyard__toml='[build.args]\nBASE_IMAGE = "${registry}/'
                f'{base_repository}@{base_digest}"\n')
    result = shipyard(repo, "push", "--json", env={"ECR_REPOSITORY": target})
    assert result.code == 0, result.err
    data = result.json()
    # the base's layer was mounted; the build's own layer and config were uploaded
    assert (data["mounted_blobs"], data["pushed_blobs"], data["skipped_blobs"]) == (1, 3, 0)

    manifest = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", "--creds",
                                 creds(ecr_client),
                                 f"docker://{registry}/{target}@{data['digest']}"))
    assert manifest["layers"][0]["digest"] == base_blob.digest
    assert manifest["layers"][0]["size"] == base_blob.size
    # buildah's own copy of that layer stays on disk, unused; the base's blob is not there
    (built,) = [path for path in (repo.project / ".shipyard" / "oci").iterdir()
                if path.is_dir() and not path.name.startswith(".")]  # not its lock file
    layout = OciLayout.open(built, external={base_blob.digest})
    assert layout.digest == data["digest"] and layout.external == {base_blob.digest}
    # the image is whole: a copy out of the registry succeeds and is the pushed image
    copy = tmp_path / "copy"
    skopeo("copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds(ecr_client),
           f"docker://{registry}/{target}@{data['digest']}", f"oci:{copy}")
    assert OciLayout.open(copy).digest == data["digest"]
