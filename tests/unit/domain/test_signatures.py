"""Cosign's signature format: the payload Shipyard signs is cosign's, byte for byte, and a
signature cosign made verifies with Shipyard's code (fixture: tests/unit/domain/cosign)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from shipyard.adapters.signing_keys import PemKey, fingerprint, open_key, verifies
from shipyard.domain.signatures import (
    PAYLOAD_MEDIA_TYPE,
    SIGNATURE_ANNOTATION,
    PayloadError,
    SignatureLayer,
    read_payload,
    signature_config,
    signature_layers,
    signature_manifest,
    signature_tag,
    simple_signing_payload,
)

COSIGN = Path(__file__).parent / "cosign"


def cosign_signature() -> tuple[bytes, bytes]:
    """(payload, DER signature) of the signature cosign made."""
    stored = json.loads((COSIGN / "signature.json").read_bytes())
    assert stored["mimeType"] == PAYLOAD_MEDIA_TYPE
    return (base64.b64decode(stored["payload"]),
            base64.b64decode(stored["annotations"][SIGNATURE_ANNOTATION]))


def cosign_key() -> PemKey:
    key = open_key(str(COSIGN / "cosign.pub"), kms=lambda: None, env={})  # type: ignore
    assert isinstance(key, PemKey)
    return key


def test_our_payload_for_the_image_is_cosigns_byte_for_byte() -> None:
    payload, _ = cosign_signature()
    digest = "sha256:" + hashlib.sha256((COSIGN / "manifest.json").read_bytes()).hexdigest()
    claims = read_payload(payload)
    assert claims.digest == digest
    assert simple_signing_payload(claims.docker_reference, digest) == payload


def test_cosigns_signature_verifies_with_its_public_key_and_not_with_another() -> None:
    payload, signature = cosign_signature()
    assert verifies(cosign_key().public_key(), payload, signature)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert not verifies(other, payload, signature)
    assert not verifies(cosign_key().public_key(), payload + b" ", signature)


def test_a_signature_we_make_verifies_as_cosign_checks_it(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "signing.key"
    from cryptography.hazmat.primitives import serialization

    key_file.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    key = open_key(str(key_file), kms=lambda: None, env={})  # type: ignore
    payload = simple_signing_payload("registry.example/app", "sha256:" + "a" * 64)
    signature = key.sign(payload)
    # what cosign does: ECDSA P-256 over SHA-256 of the payload bytes, DER-encoded
    private.public_key().verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    assert fingerprint(key.public_key()) == fingerprint(private.public_key())


def test_the_signature_image_holds_one_layer_per_signature_as_cosign_lays_it_out() -> None:
    payload, signature = cosign_signature()
    layer = SignatureLayer("sha256:" + hashlib.sha256(payload).hexdigest(), len(payload),
                           signature)
    config = signature_config([layer])
    manifest = json.loads(signature_manifest(
        [layer, layer], "sha256:" + hashlib.sha256(config).hexdigest(), len(config)))
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert json.loads(config)["rootfs"]["diff_ids"] == [layer.payload_digest]
    stored = manifest["layers"][0]
    assert stored["mediaType"] == PAYLOAD_MEDIA_TYPE and stored["size"] == len(payload)
    assert base64.b64decode(stored["annotations"][SIGNATURE_ANNOTATION]) == signature
    assert signature_layers(json.dumps(manifest).encode()) == [layer, layer]


def test_layers_that_are_not_signatures_are_skipped() -> None:
    manifest = {"layers": [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 1,
         "digest": "sha256:" + "b" * 64},
        {"mediaType": PAYLOAD_MEDIA_TYPE, "size": 3, "digest": "sha256:" + "c" * 64,
         "annotations": {SIGNATURE_ANNOTATION: "not base64!"}},
        {"mediaType": PAYLOAD_MEDIA_TYPE, "size": "3", "digest": "sha256:" + "d" * 64}]}
    found = signature_layers(json.dumps(manifest).encode())
    assert [layer.payload_digest for layer in found] == ["sha256:" + "c" * 64]
    assert found[0].signature == b""  # kept, so verification can say it does not verify
    assert signature_layers(b"not json") == []


def test_signature_tags_follow_cosigns_scheme() -> None:
    assert signature_tag("sha256:" + "0f" * 32) == "sha256-" + "0f" * 32 + ".sig"
    with pytest.raises(ValueError):
        signature_tag("latest")


@pytest.mark.parametrize("content", [b"{}", b"[]", b"null", b"not json",
                                     b'{"critical":{"type":"other","image":{}}}'])
def test_a_payload_that_is_not_simple_signing_is_refused(content: bytes) -> None:
    with pytest.raises(PayloadError):
        read_payload(content)
