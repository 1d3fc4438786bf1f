"""Opening signing keys: PEM files of each kind, KMS references, and every refusal naming the
key and the fix without printing key material."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shipyard.adapters.signing_keys import KmsKey, PemKey, open_key, verifies
from shipyard.errors import UsageError

PASSWORD = "correct horse battery staple"


class FakeKms:
    def __init__(self, spec: str = "ECC_NIST_P256") -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.spec, self.calls = spec, []

    def public_key(self, key_id: str):
        self.calls.append(("GetPublicKey", key_id))
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return der, self.spec, ["ECDSA_SHA_256"] if self.spec.startswith("ECC") else []

    def sign(self, key_id: str, message: bytes) -> bytes:
        self.calls.append(("Sign", key_id))
        from cryptography.hazmat.primitives import hashes

        return self.private.sign(message, ec.ECDSA(hashes.SHA256()))


def pem(tmp_path: Path, key, name: str = "k.pem", password: str | None = None) -> str:
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    path = tmp_path / name
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8, encryption))
    return str(path)


def open_(name: str, env: dict | None = None, kms: FakeKms | None = None):
    return open_key(name, kms=lambda: kms or FakeKms(), env=env or {})


def test_a_pkcs8_and_a_sec1_key_sign_and_verify(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    sec1 = tmp_path / "sec1.pem"
    sec1.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    for name in (pem(tmp_path, private), str(sec1)):
        key = open_(name)
        assert isinstance(key, PemKey)
        assert verifies(private.public_key(), b"payload", key.sign(b"payload"))


def test_an_encrypted_key_takes_its_password_from_the_environment(tmp_path: Path) -> None:
    name = pem(tmp_path, ec.generate_private_key(ec.SECP256R1()), password=PASSWORD)
    key = open_(name, env={"SHIPYARD_SIGNING_KEY_PASSWORD": PASSWORD})
    assert key.sign(b"x")
    with pytest.raises(UsageError, match="is encrypted; set SHIPYARD_SIGNING_KEY_PASSWORD"):
        open_(name)
    with pytest.raises(UsageError, match="cannot be decrypted") as refused:
        open_(name, env={"SHIPYARD_SIGNING_KEY_PASSWORD": "wrong"})
    assert "wrong" not in str(refused.value) and PASSWORD not in str(refused.value)


@pytest.mark.parametrize(("make", "words"), [
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "not an ECDSA"),
    (lambda: ec.generate_private_key(ec.SECP384R1()), "not an ECDSA P-256 key"),
])
def test_keys_of_other_algorithms_are_refused(tmp_path: Path, make, words: str) -> None:
    with pytest.raises(UsageError, match=words) as refused:
        open_(pem(tmp_path, make()))
    assert "openssl ecparam -name prime256v1" in str(refused.value)


def test_a_public_key_verifies_but_cannot_sign(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "k.pub"
    path.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    key = open_(str(path))
    assert key.public_key().public_numbers() == private.public_key().public_numbers()
    with pytest.raises(UsageError, match="is a public key: it verifies but cannot sign"):
        key.sign(b"x")


def test_garbage_and_missing_files_are_refused_without_their_content(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----\n")
    with pytest.raises(UsageError, match="is not a readable PEM key") as refused:
        open_(str(path))
    assert "SECRETSECRET" not in str(refused.value)
    with pytest.raises(UsageError, match="cannot be read"):
        open_(str(tmp_path / "absent.pem"))


@pytest.mark.parametrize("name", ["awskms:///alias/release", "awskms:///1234abcd-12ab",
                                  "awskms:///arn:aws:kms:us-east-1:123456789012:key/1234"])
def test_kms_references_name_the_key_and_kms_is_asked_only_when_used(name: str) -> None:
    kms = FakeKms()
    key = open_(name, kms=kms)
    assert isinstance(key, KmsKey) and key.key_id == name.removeprefix("awskms:///")
    assert kms.calls == []
    signature = key.sign(b"payload")
    assert verifies(key.public_key(), b"payload", signature)
    assert kms.calls == [("GetPublicKey", key.key_id), ("Sign", key.key_id)]


def test_a_kms_key_of_the_wrong_kind_is_refused_before_it_signs() -> None:
    kms = FakeKms(spec="SYMMETRIC_DEFAULT")
    key = open_("awskms:///alias/data", kms=kms)
    with pytest.raises(UsageError, match="SYMMETRIC_DEFAULT key; Shipyard signs with ECC_NIST"):
        key.sign(b"x")
    assert [call for call, _ in kms.calls] == ["GetPublicKey"]


@pytest.mark.parametrize(("name", "words"), [
    ("awskms://localhost:4566/alias/x", "three slashes"),
    ("awskms:///", "names no KMS key"),
    ("hashivault://transit/key", "only PEM files and awskms"),
    ("  ", "the signing key is empty"),
])
def test_references_that_cannot_be_keys(name: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        open_(name)


def test_a_relative_path_from_the_config_is_read_from_its_folder(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem(tmp_path, private, "signing.key")
    key = open_key("signing.key", kms=lambda: FakeKms(), env={}, base=tmp_path)
    assert key.public_key().public_numbers() == private.public_key().public_numbers()
