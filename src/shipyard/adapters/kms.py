"""KMS: signing with a key that never leaves AWS, and reading its public half."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, translated


class Kms:
    """The KMS calls `shipyard sign` and `verify-image` make."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws

    def sign(self, key_id: str, message: bytes) -> bytes:
        """An ECDSA_SHA_256 signature (ASN.1 DER) of `message`. The message goes RAW, KMS
        hashing it: payloads are far below the 4 KiB RAW limit."""
        with translated("kms:Sign"):
            answer = self._aws.client("kms").sign(
                KeyId=key_id, Message=message, MessageType="RAW",
                SigningAlgorithm="ECDSA_SHA_256")
        return bytes(answer["Signature"])

    def public_key(self, key_id: str) -> tuple[bytes, str, list[str]]:
        """(DER SubjectPublicKeyInfo, key spec, signing algorithms) of an asymmetric key."""
        with translated("kms:GetPublicKey"):
            answer = self._aws.client("kms").get_public_key(KeyId=key_id)
        # KeySpec replaced CustomerMasterKeySpec; AWS answers both, moto 5.2 only the old one
        spec = answer.get("KeySpec") or answer.get("CustomerMasterKeySpec") or ""
        return (bytes(answer["PublicKey"]), str(spec),
                [str(a) for a in answer.get("SigningAlgorithms") or []])
