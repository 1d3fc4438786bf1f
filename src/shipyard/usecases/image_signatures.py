"""Reading an image's manifests and the cosign signatures stored beside them in its repository.

Shared by `sign` (which looks for a signature by its key before adding one) and
`verify-image` (which checks them). Only reads: the writes are `sign`'s.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shipyard.adapters.oci_layout.remote import registry_image
from shipyard.adapters.signing_keys import VerifyingKey, fingerprint, verifies
from shipyard.domain.signatures import (
    PayloadError,
    SignatureLayer,
    read_payload,
    signature_layers,
    signature_tag,
)
from shipyard.errors import NotFoundError

# Payloads are a few hundred bytes; a "payload" far larger is not one, and is not read whole.
_MAX_PAYLOAD_BYTES = 64 * 1024


class SignatureReader(Protocol):
    def manifest_digest(self, repository: str, reference: str) -> str | None: ...
    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]: ...
    def get_small_blob(self, repository: str, digest: str, max_bytes: int = ...) -> bytes: ...


@dataclass(frozen=True)
class Manifest:
    """One manifest to sign or verify: the index, or a platform image."""

    digest: str
    platform: str  # "index", or the platform image's platform ("linux/amd64")


@dataclass(frozen=True)
class StoredSignatures:
    """The signature image of one manifest, as it is now (`layers` empty when none)."""

    tag: str
    layers: tuple[SignatureLayer, ...]
    payloads: dict[str, bytes]  # payload digest -> bytes, for the layers that could be read


@dataclass(frozen=True)
class Check:
    """One stored signature checked against the keys: `key` names the key it verifies with,
    "" when none; `problem` says why it does not count."""

    key: str
    fingerprint: str
    docker_reference: str
    problem: str

    @property
    def valid(self) -> bool:
        return not self.problem


def resolve_image(reader: SignatureReader, repository: str, reference: str) -> str:
    """The digest a tag (or digest) names in the repository; NotFoundError when none."""
    found = reader.manifest_digest(repository, reference)
    if found is None:
        raise NotFoundError(f"image {repository}:{reference} is not in the registry; check "
                            "the tag or digest (shipyard tags lists what a push would write)")
    return found


def image_manifests(reader: SignatureReader, repository: str, digest: str) -> list[Manifest]:
    """The platform images of an index, then the index; or the one image."""
    with tempfile.TemporaryDirectory(prefix="shipyard-sign-") as folder:
        image = registry_image(reader, repository, digest, Path(folder))
    children = [Manifest(child.descriptor.digest, child.platform or "unknown")
                for child in image.children]
    top = Manifest(digest, "index" if image.is_index else (image.platforms or ["image"])[0])
    return [*children, top]


def stored_signatures(reader: SignatureReader, repository: str,
                      digest: str) -> StoredSignatures:
    """The signatures stored for `digest` (none when its `.sig` tag is absent)."""
    tag = signature_tag(digest)
    found = reader.manifest_digest(repository, tag)
    if found is None:
        return StoredSignatures(tag, (), {})
    content, _, _ = reader.get_manifest(repository, found)
    layers = tuple(signature_layers(content))
    payloads = {layer.payload_digest: reader.get_small_blob(
        repository, layer.payload_digest, max_bytes=_MAX_PAYLOAD_BYTES)
        for layer in layers if layer.payload_size <= _MAX_PAYLOAD_BYTES}
    return StoredSignatures(tag, layers, payloads)


def check_signature(layer: SignatureLayer, payload: bytes | None, digest: str,
                    keys: list[VerifyingKey]) -> Check:
    """Whether one stored signature vouches for `digest` with one of `keys`: the signature
    verifies over the payload's bytes, and the payload names `digest` (a valid signature of
    another image, copied under this tag, vouches for nothing here)."""
    if payload is None:
        return Check("", "", "", f"its payload is larger than {_MAX_PAYLOAD_BYTES} bytes")
    for key in keys:
        public = key.public_key()
        if verifies(public, payload, layer.signature):
            try:
                claims = read_payload(payload)
            except PayloadError as exc:
                return Check(key.name, fingerprint(public), "", f"its payload: {exc}")
            if claims.digest != digest:
                return Check(key.name, fingerprint(public), claims.docker_reference,
                             f"it signs another image, {claims.digest}")
            return Check(key.name, fingerprint(public), claims.docker_reference, "")
    return Check("", "", "", "it does not verify with "
                 + ("the key" if len(keys) == 1 else f"any of the {len(keys)} keys"))
