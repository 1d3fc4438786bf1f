"""The sandbox keeps the real registry and moto's ECR consistent, as ECR itself is."""

from __future__ import annotations

import base64
import subprocess

import pytest

from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import BasicAuth, RegistryClient
from shipyard.errors import AuthError, ConflictError, RegistryError

pytestmark = pytest.mark.integration


def login(ecr_client) -> BasicAuth:
    data = ecr_client.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    return BasicAuth(user, password)


def create(ecr_client, name: str, **kwargs) -> None:
    ecr_client.create_repository(repositoryName=name, **kwargs)


def skopeo_raw(env: dict, auth: BasicAuth, reference: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", "--creds",
         f"{auth.username}:{auth.password}", f"docker://{env['SHIPYARD_REGISTRY']}/{reference}"],
        capture_output=True, text=True, check=False)


def test_token_is_the_registry_password(sandbox_env, ecr_client) -> None:
    data = ecr_client.get_authorization_token()["authorizationData"][0]
    assert data["proxyEndpoint"] == f"http://{sandbox_env['SHIPYARD_REGISTRY']}"
    with RegistryClient(sandbox_env["SHIPYARD_REGISTRY"], auth=login(ecr_client)) as client:
        client.check_auth()
    with RegistryClient(sandbox_env["SHIPYARD_REGISTRY"], auth=("AWS", "wrong")) as client, \
            pytest.raises(AuthError):
        client.check_auth()


def test_pushed_images_are_listed_with_true_digests(sandbox_env, ecr_client,
                                                    oci_layout_factory) -> None:
    repo = sandbox_env["ECR_REPOSITORY"]
    create(ecr_client, repo)
    layout = OciLayout.open(oci_layout_factory(("linux/amd64", "linux/arm64")))
    with RegistryClient(sandbox_env["SHIPYARD_REGISTRY"], auth=login(ecr_client)) as client:
        client.push_layout(layout, repo, ["1.0.0", "latest"])
    images = {i["imageDigest"]: i for i in ecr_client.describe_images(repositoryName=repo)[
        "imageDetails"]}
    assert sorted(images[layout.digest]["imageTags"]) == ["1.0.0", "latest"]
    for child in layout.children:  # index children: listed untagged, as on ECR
        digest = child.descriptor.digest
        assert digest in images and "imageTags" not in images[digest]
        assert images[digest]["imageSizeInBytes"] > 0


def test_push_to_a_missing_repository_is_refused(sandbox_env, ecr_client,
                                                 oci_layout_factory) -> None:
    layout = OciLayout.open(oci_layout_factory())
    with RegistryClient(sandbox_env["SHIPYARD_REGISTRY"], auth=login(ecr_client)) as client, \
            pytest.raises(RegistryError, match="NAME_UNKNOWN"):
        client.push_layout(layout, "never/created", ["1.0.0"])


def test_immutable_tags_do_not_move_but_excluded_ones_do(sandbox_env, ecr_client,
                                                         oci_layout_factory) -> None:
    repo = sandbox_env["ECR_REPOSITORY"]
    create(ecr_client, repo, imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
           imageTagMutabilityExclusionFilters=[{"filter": "latest", "filterType": "WILDCARD"}])
    first = OciLayout.open(oci_layout_factory())
    second = OciLayout.open(oci_layout_factory())
    auth = login(ecr_client)
    with RegistryClient(sandbox_env["SHIPYARD_REGISTRY"], auth=auth) as client:
        client.push_layout(first, repo, ["1.0.0", "latest"])
        with pytest.raises(ConflictError, match=f"{repo}:1.0.0"):
            client.push_layout(second, repo, ["1.0.0"])
        client.push_layout(second, repo, ["latest"])  # excluded: moves
        assert client.manifest_digest(repo, "1.0.0") == first.digest
        assert client.manifest_digest(repo, "latest") == second.digest
    tags = {i["imageDigest"]: i.get("imageTags", []) for i in
            ecr_client.describe_images(repositoryName=repo)["imageDetails"]}
    assert tags[first.digest] == ["1.0.0"] and tags[second.digest] == ["latest"]


def test_batch_delete_removes_from_the_registry(sandbox_env, ecr_client,
                                                oci_layout_factory) -> None:
    repo = sandbox_env["ECR_REPOSITORY"]
    create(ecr_client, repo)
    layout = OciLayout.open(oci_layout_factory())
    auth = login(ecr_client)
    with RegistryClient(sandbox_env["SHIPYARD_REGISTRY"], auth=auth) as client:
        client.push_layout(layout, repo, ["1.0.0", "extra"])
    # deleting one of two tags only untags, as on ECR
    ecr_client.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "extra"}])
    assert skopeo_raw(sandbox_env, auth, f"{repo}:extra").returncode != 0
    assert skopeo_raw(sandbox_env, auth, f"{repo}:1.0.0").returncode == 0
    # deleting by digest removes the image
    ecr_client.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": layout.digest}])
    assert ecr_client.describe_images(repositoryName=repo)["imageDetails"] == []
    gone = skopeo_raw(sandbox_env, auth, f"{repo}@{layout.digest}")
    assert gone.returncode != 0 and "manifest unknown" in gone.stderr


def test_registry_api_deletes_are_refused_as_on_ecr(sandbox_env, ecr_client,
                                                    oci_layout_factory) -> None:
    repo = sandbox_env["ECR_REPOSITORY"]
    create(ecr_client, repo)
    layout = OciLayout.open(oci_layout_factory())
    with RegistryClient(sandbox_env["SHIPYARD_REGISTRY"], auth=login(ecr_client)) as client:
        client.push_layout(layout, repo, ["1.0.0"])
        with pytest.raises(RegistryError, match="UNSUPPORTED"):
            client.delete_manifest(repo, layout.digest)
    assert len(ecr_client.describe_images(repositoryName=repo)["imageDetails"]) == 1
