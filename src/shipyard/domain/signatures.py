"""Cosign-compatible image signatures: the payload signed, and how signatures are stored.

Cosign (sigstore) stores the signatures of image `repo@sha256:<hex>` as another image in the
same repository, tagged `sha256-<hex>.sig`. That image is an OCI manifest whose every layer is
one signature:

* the layer's blob is the *simple-signing payload*, a small JSON document naming the image
  by digest: ``{"critical":{"identity":{"docker-reference":"REGISTRY/REPO"},
  "image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},
  "optional":null}``;
* its media type is `application/vnd.dev.cosign.simplesigning.v1+json`;
* its annotation `dev.cosignproject.cosign/signature` holds the base64 of an ECDSA
  signature (ASN.1 DER) over the SHA-256 of exactly those payload bytes.

A second signature of the same image is one more layer in the same manifest. What a
signature vouches for is the digest inside the payload, not the tag it is stored under:
verification checks the signature over the payload *and* that the payload names the image.

This module is pure: it builds and reads those documents; signing, keys and the registry live
in adapters.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.domain.names import DIGEST

PAYLOAD_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIGNATURE_SUFFIX = ".sig"
# Go's zero time, which cosign's signature images carry as their creation time.
_ZERO_TIME = "0001-01-01T00:00:00Z"


def signature_tag(digest: str) -> str:
    """The tag cosign stores the signatures of `digest` under: `sha256-<hex>.sig`."""
    if not DIGEST.fullmatch(digest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return digest.replace(":", "-") + SIGNATURE_SUFFIX


def simple_signing_payload(docker_reference: str, digest: str,
                           annotations: Mapping[str, str] | None = None) -> bytes:
    """The payload cosign signs for `digest`, byte for byte as cosign writes it (Go's field
    order, no spaces), so the same image gives the same payload from either tool."""
    document = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": dict(annotations) if annotations else None,
    }
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Payload:
    """What a simple-signing payload claims."""

    docker_reference: str
    digest: str
    optional: Mapping[str, Any]


class PayloadError(ValueError):
    """The payload is not a cosign simple-signing document."""


def read_payload(content: bytes) -> Payload:
    """The claims of a payload; PayloadError when it is not one."""
    try:
        document = json.loads(content)
        critical = document["critical"]
        if critical["type"] != SIGNATURE_TYPE:
            raise PayloadError(f"its type is {critical['type']!r}, not {SIGNATURE_TYPE!r}")
        digest = str(critical["image"]["docker-manifest-digest"])
        reference = str((critical.get("identity") or {}).get("docker-reference", ""))
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"it is not a simple-signing JSON document ({exc})") from exc
    optional = document.get("optional") or {}
    return Payload(reference, digest, optional if isinstance(optional, dict) else {})


@dataclass(frozen=True)
class SignatureLayer:
    """One signature of a signature image: its payload blob and the signature over it."""

    payload_digest: str
    payload_size: int
    signature: bytes  # ASN.1 DER ECDSA; empty when the annotation is missing or not base64

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": PAYLOAD_MEDIA_TYPE, "size": self.payload_size,
                "digest": self.payload_digest,
                "annotations": {SIGNATURE_ANNOTATION: base64.b64encode(self.signature).decode()}}


def signature_layers(manifest: bytes) -> list[SignatureLayer]:
    """The signatures a signature image's manifest holds (other layers are skipped: cosign
    attaches nothing else under `.sig`, and an unknown layer vouches for nothing)."""
    try:
        layers = json.loads(manifest).get("layers") or []
    except (ValueError, AttributeError):
        return []
    found = []
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("mediaType") != PAYLOAD_MEDIA_TYPE:
            continue
        digest, size = str(layer.get("digest", "")), layer.get("size")
        if not DIGEST.fullmatch(digest) or not isinstance(size, int):
            continue
        encoded = str((layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION, ""))
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        found.append(SignatureLayer(digest, size, signature))
    return found


def signature_config(layers: list[SignatureLayer]) -> bytes:
    """The config of a signature image: cosign's, whose diff_ids are the payload digests."""
    document = {
        "architecture": "", "created": _ZERO_TIME, "history": [{"created": _ZERO_TIME}],
        "os": "", "rootfs": {"type": "layers",
                             "diff_ids": [layer.payload_digest for layer in layers]},
        "config": {},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signature_manifest(layers: list[SignatureLayer], config_digest: str,
                       config_size: int) -> bytes:
    """The OCI manifest of a signature image holding `layers`, in order."""
    document = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": config_size, "digest": config_digest},
        "layers": [layer.descriptor() for layer in layers],
    }
    return json.dumps(document, separators=(",", ":")).encode()
