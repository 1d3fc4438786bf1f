"""The sandbox mounts blobs across repositories only as ECR does: once the registry's
BLOB_MOUNTING account setting is ENABLED, and between repositories encrypted alike. A refused
mount is a plain upload session, so the push still completes, by uploading."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import RegistryClient
from shipyard_testing.oci_layouts import write_oci_layout

from .test_sandbox import login

pytestmark = pytest.mark.integration


def blob_mounting(ecr_client) -> str:
    return ecr_client.get_account_setting(name="BLOB_MOUNTING")["value"]


def test_mounts_wait_for_blob_mounting_and_need_the_same_encryption(
        sandbox_env, ecr_client, tmp_path: Path) -> None:
    prefix = sandbox_env["ECR_REPOSITORY"]
    base, refused, mounted, kms = (f"{prefix}/{n}" for n in ("base", "off", "on", "kms"))
    for name in (base, refused, mounted):
        ecr_client.create_repository(repositoryName=name)
    ecr_client.create_repository(repositoryName=kms,
                                 encryptionConfiguration={"encryptionType": "KMS"})
    layout = OciLayout.open(write_oci_layout(tmp_path / "image"))

    def push(repository: str):
        with RegistryClient(sandbox_env["SHIPYARD_REGISTRY"], auth=login(ecr_client)) as c:
            return c.push_layout(layout, repository, ["1"], mount_from=base)

    with RegistryClient(sandbox_env["SHIPYARD_REGISTRY"], auth=login(ecr_client)) as client:
        blobs = client.push_layout(layout, base, ["1"]).pushed_blobs
    assert blobs > 0
    try:
        # ECR's default: no mount, every blob uploaded, and the image is there all the same
        assert blob_mounting(ecr_client) == "DISABLED"
        report = push(refused)
        assert (report.mounted_blobs, report.pushed_blobs) == (0, blobs)
        assert report.bytes_uploaded > 0
        tags = [i.get("imageTags") for i in
                ecr_client.describe_images(repositoryName=refused)["imageDetails"]]
        assert tags == [["1"]]

        answer = ecr_client.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
        assert (answer["name"], answer["value"]) == ("BLOB_MOUNTING", "ENABLED")
        assert blob_mounting(ecr_client) == "ENABLED"
        assert push(mounted).mounted_blobs == blobs
        # enabled, but KMS is not the base's AES256: ECR does not mount across encryptions
        report = push(kms)
        assert (report.mounted_blobs, report.pushed_blobs) == (0, blobs)
    finally:
        # one sandbox per session: the other tests expect ECR's default
        ecr_client.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")
    assert blob_mounting(ecr_client) == "DISABLED"


@pytest.mark.parametrize(("name", "value", "code"), [
    # a name ECR does not know
    ("BLOB_MOUNTS", "ENABLED", "ValidationException"),
    # a known name with a value it does not take
    ("BLOB_MOUNTING", "enabled", "InvalidParameterException"),
])
def test_bad_account_settings_are_refused_and_change_nothing(
        sandbox_env, ecr_client, name: str, value: str, code: str) -> None:
    with pytest.raises(ClientError) as refused:
        ecr_client.put_account_setting(name=name, value=value)
    assert refused.value.response["Error"]["Code"] == code
    assert blob_mounting(ecr_client) == "DISABLED"


def test_unknown_account_setting_names_cannot_be_read(sandbox_env, ecr_client) -> None:
    with pytest.raises(ClientError) as refused:
        ecr_client.get_account_setting(name="BLOB_MOUNTS")
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_other_documented_settings_answer_their_defaults(sandbox_env, ecr_client) -> None:
    assert ecr_client.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V2"
