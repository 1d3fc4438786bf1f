"""Signing keys: a PEM file on disk, or an AWS KMS key that never leaves AWS.

A key is named as cosign names it, so one setting serves both tools:

* a path to a PEM file: a private key (PKCS#8 `PRIVATE KEY` or SEC 1 `EC PRIVATE KEY`,
  optionally encrypted, its password in `SHIPYARD_SIGNING_KEY_PASSWORD`) signs and verifies;
  a public key (`PUBLIC KEY`, what `cosign generate-key-pair` writes as `cosign.pub`) only
  verifies;
* `awskms:///alias/NAME`, `awskms:///KEY-ID` or `awskms:///arn:aws:kms:…`: a KMS key of spec
  ECC_NIST_P256 and usage SIGN_VERIFY; KMS signs, and its public key verifies.

Every key is ECDSA on P-256 over SHA-256, what cosign makes by default. Cosign's own
encrypted key file (`ENCRYPTED SIGSTORE PRIVATE KEY`) is not read: its format is cosign's
(scrypt and NaCl secretbox); a PEM key made with openssl is imported into cosign instead.
Nothing here ever prints key material: errors name the key by how the user named it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shipyard.errors import UsageError

KMS_SCHEME = "awskms://"
PASSWORD_VARIABLE = "SHIPYARD_SIGNING_KEY_PASSWORD"
_OTHER_SCHEMES = ("gcpkms://", "azurekms://", "hashivault://", "k8s://", "pkcs11:")
_COSIGN_KEY_MARKERS = (b"ENCRYPTED SIGSTORE PRIVATE KEY", b"ENCRYPTED COSIGN PRIVATE KEY")
_OPENSSL_HINT = ("make one with `openssl ecparam -name prime256v1 -genkey -noout | openssl "
                 "pkcs8 -topk8 -nocrypt -out signing.key` (and `openssl pkey -in signing.key "
                 "-pubout -out signing.pub` for its public half)")


class KmsSigner(Protocol):
    def sign(self, key_id: str, message: bytes) -> bytes: ...
    def public_key(self, key_id: str) -> tuple[bytes, str, list[str]]: ...


class VerifyingKey(Protocol):
    """A key that checks signatures: `name` is how the user named it (never key material)."""

    name: str

    def public_key(self) -> ec.EllipticCurvePublicKey: ...


class SigningKey(VerifyingKey, Protocol):
    def sign(self, payload: bytes) -> bytes: ...


def fingerprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """A short name for a public key: the sha256 of its DER SubjectPublicKeyInfo, 16 hex."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()[:16]


def verifies(public_key: ec.EllipticCurvePublicKey, payload: bytes, signature: bytes) -> bool:
    """True when `signature` (ASN.1 DER ECDSA) is over SHA-256 of `payload` by that key."""
    try:
        public_key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class PemKey:
    """A key in a PEM file: private (signs and verifies) or public (verifies)."""

    name: str
    private: ec.EllipticCurvePrivateKey | None
    public: ec.EllipticCurvePublicKey

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.public

    def sign(self, payload: bytes) -> bytes:
        if self.private is None:
            raise UsageError(f"key {self.name} is a public key: it verifies but cannot sign; "
                             "pass the private key's PEM file or an awskms:/// key")
        return self.private.sign(payload, ec.ECDSA(hashes.SHA256()))


@dataclass
class KmsKey:
    """A KMS key: KMS signs; its public key, read once, verifies."""

    name: str
    key_id: str
    kms: KmsSigner
    _public: ec.EllipticCurvePublicKey | None = None

    def public_key(self) -> ec.EllipticCurvePublicKey:
        if self._public is None:
            der, spec, algorithms = self.kms.public_key(self.key_id)
            if spec != "ECC_NIST_P256" or "ECDSA_SHA_256" not in algorithms:
                raise UsageError(f"key {self.name} is a {spec or 'non-signing'} key; Shipyard "
                                 "signs with ECC_NIST_P256 keys of usage SIGN_VERIFY: create "
                                 "one with `aws kms create-key --key-spec ECC_NIST_P256 "
                                 "--key-usage SIGN_VERIFY`")
            self._public = _ec_public(serialization.load_der_public_key(der), self.name)
        return self._public

    def sign(self, payload: bytes) -> bytes:
        self.public_key()  # a key of the wrong kind fails here, before KMS is asked to sign
        return self.kms.sign(self.key_id, payload)


def open_key(name: str, *, kms: Callable[[], KmsSigner], env: Mapping[str, str],
             base: Path | None = None) -> PemKey | KmsKey:
    """The key `name` names (a PEM path, relative to `base` when given, or awskms:///…).

    Raises UsageError, naming the key and the fix, when it cannot be one: a missing or
    unreadable file, a key of another algorithm, a wrong password, another KMS scheme. KMS
    is not called here.
    """
    name = name.strip()
    if not name:
        raise UsageError("the signing key is empty; pass a PEM file or awskms:///alias/NAME")
    if name.startswith(KMS_SCHEME):
        return KmsKey(name, _kms_key_id(name), kms())
    if name.startswith(_OTHER_SCHEMES):
        raise UsageError(f"key {name}: only PEM files and awskms:/// keys are supported; "
                         "use an AWS KMS key (awskms:///alias/NAME) or a PEM file")
    path = Path(name) if base is None or Path(name).is_absolute() else base / name
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"key file {name} cannot be read ({exc.strerror or exc}); pass an "
                         f"existing PEM file, or {_OPENSSL_HINT}") from None
    return _pem_key(name, content, env)


def _kms_key_id(name: str) -> str:
    rest = name[len(KMS_SCHEME):]
    host, _, key_id = rest.partition("/")
    if host:
        raise UsageError(f"key {name} names a KMS endpoint ({host}); write awskms:///KEY (three "
                         "slashes) and set AWS_ENDPOINT_URL for another endpoint")
    if not key_id or any(c.isspace() for c in key_id):
        raise UsageError(f"key {name} names no KMS key; write awskms:///alias/NAME, "
                         "awskms:///KEY-ID or awskms:///arn:aws:kms:REGION:ACCOUNT:key/KEY-ID")
    return key_id


def _pem_key(name: str, content: bytes, env: Mapping[str, str]) -> PemKey:
    if any(marker in content for marker in _COSIGN_KEY_MARKERS):
        raise UsageError(f"key file {name} is in cosign's encrypted format, which Shipyard "
                         f"does not read; {_OPENSSL_HINT}, then `cosign import-key-pair --key "
                         "signing.key` if cosign should sign with it too")
    if b"PUBLIC KEY-----" in content and b"PRIVATE KEY-----" not in content:
        try:
            public = serialization.load_pem_public_key(content)
        except (ValueError, UnsupportedAlgorithm):
            raise UsageError(f"key file {name} is not a readable PEM public key; "
                             f"{_OPENSSL_HINT}") from None
        return PemKey(name, None, _ec_public(public, name))
    password = env.get(PASSWORD_VARIABLE)
    try:
        private = serialization.load_pem_private_key(
            content, password.encode() if password else None)
    except TypeError:
        problem = ("is encrypted; set SHIPYARD_SIGNING_KEY_PASSWORD" if not password
                   else "is not encrypted; unset SHIPYARD_SIGNING_KEY_PASSWORD")
        raise UsageError(f"key file {name} {problem}") from None
    except (ValueError, UnsupportedAlgorithm):
        problem = ("cannot be decrypted with SHIPYARD_SIGNING_KEY_PASSWORD; check it"
                   if password and b"ENCRYPTED" in content
                   else f"is not a readable PEM key; {_OPENSSL_HINT}")
        raise UsageError(f"key file {name} {problem}") from None
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise UsageError(f"key file {name} is not an ECDSA key; Shipyard signs with ECDSA "
                         f"P-256 keys: {_OPENSSL_HINT}")
    return PemKey(name, private, _ec_public(private.public_key(), name))


def _ec_public(public: object, name: str) -> ec.EllipticCurvePublicKey:
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        raise UsageError(f"key {name} is not an ECDSA P-256 key; Shipyard signs and verifies "
                         f"with ECDSA P-256 over SHA-256, as cosign does: {_OPENSSL_HINT}")
    return public
