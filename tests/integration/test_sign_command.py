"""`shipyard sign`, `push --sign` and `verify-image` on the sandbox's registry and KMS.

What is stored is checked with skopeo and `cryptography` directly, not with Shipyard's own
reader: the `.sig` tags, the layers' media type and annotation, and that each signature
verifies over its payload and the payload names the manifest it is stored for.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shipyard_testing.registry_reads import (
    assert_signed,
    creds,
    key_pair,
    registry_tags,
    skopeo_raw,
)

pytestmark = pytest.mark.integration


def push(repo, shipyard, layout: Path, *extra: str, env: dict | None = None) -> dict:
    pushed = shipyard(repo, "push", "--from-oci", str(layout), "--json", *extra, env=env)
    assert pushed.code == 0, pushed.err
    return pushed.json()


def test_sign_an_index_and_every_platform_image_then_verify(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory, tmp_path: Path) -> None:
    image = push(repo, shipyard, oci_layout_factory(("linux/amd64", "linux/arm64")))
    index = json.loads(skopeo_raw(sandbox_env, ecr_client, image["digest"]))
    children = [entry["digest"] for entry in index["manifests"]]
    key, pub, public = key_pair(tmp_path)

    signed = shipyard(repo, "sign", "1.1.0", "--key", str(key), "--json")
    assert signed.code == 0, signed.err
    data = signed.json()
    assert data["signed"] == 3
    assert [m["digest"] for m in data["manifests"]] == [*children, image["digest"]]
    assert [m["platform"] for m in data["manifests"]] == ["linux/amd64", "linux/arm64",
                                                         "index"]
    for digest in [*children, image["digest"]]:
        assert_signed(sandbox_env, ecr_client, digest, public)
    sig_tags = {f"sha256-{d[7:]}.sig" for d in [*children, image["digest"]]}
    assert sig_tags <= set(registry_tags(sandbox_env, ecr_client))

    verified = shipyard(repo, "verify-image", "1.1.0", "--key", str(pub))
    assert verified.code == 0, verified.err
    assert "verified" in verified.out and verified.out.count("ok ") == 3

    # signing again with the same key writes nothing: the .sig images stay as they were
    before = {tag: skopeo_raw(sandbox_env, ecr_client, tag) for tag in sig_tags}
    again = shipyard(repo, "sign", image["digest"], "--key", str(key), "--json")
    assert again.code == 0, again.err
    assert again.json()["signed"] == 0
    assert {m["state"] for m in again.json()["manifests"]} == {"already signed"}
    assert {tag: skopeo_raw(sandbox_env, ecr_client, tag) for tag in sig_tags} == before

    # the repository keeps `*-*` tags immutable, as GamePulse's does: a second key's
    # signature cannot replace a signature image, and the refusal says so
    second_key, _, _ = key_pair(tmp_path, "second")
    refused = shipyard(repo, "sign", "1.1.0", "--key", str(second_key))
    assert refused.code == 6, refused.err
    assert "holds signatures by another key" in refused.err and refused.err.count("error:") == 1
    assert {tag: skopeo_raw(sandbox_env, ecr_client, tag) for tag in sig_tags} == before


def test_verify_image_fails_with_another_key_and_on_a_signature_of_another_image(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory, tmp_path: Path) -> None:
    first = push(repo, shipyard, oci_layout_factory())
    key, pub, _ = key_pair(tmp_path)
    _, other_pub, _ = key_pair(tmp_path, "other")
    assert shipyard(repo, "sign", "1.1.0", "--key", str(key)).code == 0

    wrong = shipyard(repo, "verify-image", "1.1.0", "--key", str(other_pub), "--json")
    assert wrong.code == 18
    verdict = json.loads(wrong.out)
    assert verdict["verified"] is False
    assert "does not verify with the key" in verdict["manifests"][0]["reason"]
    error = json.loads(wrong.err)["error"]
    assert error["code"] == "signature" and "--key" in error["message"]

    # the second image is unsigned: exit 18, "no signatures"
    repo.commit("second", app__py="print(2)\n")
    second = push(repo, shipyard, oci_layout_factory(), "--version", "1.2.0")
    unsigned = shipyard(repo, "verify-image", "1.2.0", "--key", str(pub))
    assert unsigned.code == 18 and "no signatures" in unsigned.out

    # the first image's valid signature copied under the second's .sig tag vouches for
    # nothing there: it names the first image
    base = f"docker://{sandbox_env['SHIPYARD_REGISTRY']}/{sandbox_env['ECR_REPOSITORY']}"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                    "--dest-tls-verify=false", "--src-creds", creds(ecr_client),
                    "--dest-creds", creds(ecr_client),
                    f"{base}:sha256-{first['digest'][7:]}.sig",
                    f"{base}:sha256-{second['digest'][7:]}.sig"], check=True)
    copied = shipyard(repo, "verify-image", "1.2.0", "--key", str(pub))
    assert copied.code == 18
    assert f"it signs another image, {first['digest']}" in copied.out


def test_push_sign_with_a_kms_key_and_verify_with_its_exported_public_key(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory, tmp_path: Path) -> None:
    import boto3

    kms = boto3.client("kms", region_name=sandbox_env["AWS_REGION"],
                       endpoint_url=sandbox_env["AWS_ENDPOINT_URL"])
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"][
        "KeyId"]
    alias = f"alias/sign-{key_id[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    image = push(repo, shipyard, oci_layout_factory(("linux/amd64", "linux/arm64")),
                 "--sign", "--key", f"awskms:///{alias}")
    assert image["signed"]["signed"] == 3 and image["signed"]["key"] == f"awskms:///{alias}"

    der = kms.get_public_key(KeyId=alias)["PublicKey"]
    public = serialization.load_der_public_key(der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert_signed(sandbox_env, ecr_client, image["digest"], public)
    pub = tmp_path / "kms.pub"
    pub.write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo))
    for key in (str(pub), f"awskms:///{alias}", f"awskms:///{key_id}"):
        verified = shipyard(repo, "verify-image", "latest", "--key", key)
        assert verified.code == 0, (key, verified.err)


def test_a_key_that_cannot_sign_stops_before_any_write(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory, tmp_path: Path) -> None:
    import boto3

    push(repo, shipyard, oci_layout_factory())
    tags = registry_tags(sandbox_env, ecr_client)
    kms = boto3.client("kms", region_name=sandbox_env["AWS_REGION"],
                       endpoint_url=sandbox_env["AWS_ENDPOINT_URL"])
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    _, pub, _ = key_pair(tmp_path)
    cosign_format = tmp_path / "cosign.key"
    cosign_format.write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n"
                             "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    cases = [
        (str(tmp_path / "missing.key"), 2, "cannot be read"),
        (str(pub), 2, "is a public key"),
        (str(cosign_format), 2, "cosign's encrypted format"),
        (f"awskms:///{symmetric}", 2, "ECC_NIST_P256"),
        ("awskms:///alias/no-such-key", 14, "kms:GetPublicKey"),
        ("awskms://kms.example.com/alias/x", 2, "three slashes"),
        ("gcpkms://projects/p/keys/k", 2, "only PEM files and awskms"),
    ]
    for key, code, words in cases:
        refused = shipyard(repo, "sign", "1.1.0", "--key", key)
        assert (refused.code, refused.err.count("error:")) == (code, 1), (key, refused.err)
        assert words in refused.err, (key, refused.err)
    # and push --sign with a bad key pushes nothing
    repo.commit("next", app__py="print(3)\n")
    refused = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()), "--version",
                       "1.3.0", "--sign", "--key", f"awskms:///{symmetric}")
    assert refused.code == 2, refused.err
    assert registry_tags(sandbox_env, ecr_client) == tags
