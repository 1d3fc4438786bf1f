"""Reading what was pushed to the sandbox with tools other than Shipyard's own client:
skopeo, plain HTTP, and `cryptography` for signatures (cosign's layout)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PAYLOAD = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION = "dev.cosignproject.cosign/signature"


def creds(ecr_client) -> str:
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode()


def skopeo_raw(env: dict, ecr_client, reference: str, what: str = "") -> bytes:
    """The raw manifest (or, with what="--config", the config) at `reference`."""
    base = f"docker://{env['SHIPYARD_REGISTRY']}/{env['ECR_REPOSITORY']}"
    separator = "@" if reference.startswith("sha256:") else ":"
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", "--creds",
                           creds(ecr_client), *([what] if what else []),
                           f"{base}{separator}{reference}"],
                          capture_output=True, check=True)
    return done.stdout


def registry_tags(env: dict, ecr_client) -> list[str]:
    base = f"docker://{env['SHIPYARD_REGISTRY']}/{env['ECR_REPOSITORY']}"
    done = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", "--creds",
                           creds(ecr_client), base], capture_output=True, text=True, check=True)
    return sorted(json.loads(done.stdout)["Tags"])


def blob(env: dict, ecr_client, digest: str) -> bytes:
    """A blob read over HTTP with the ECR token, independent of Shipyard's client."""
    user, password = creds(ecr_client).split(":", 1)
    answer = httpx.get(f"http://{env['SHIPYARD_REGISTRY']}/v2/{env['ECR_REPOSITORY']}/blobs/"
                       f"{digest}", auth=(user, password), follow_redirects=True, timeout=10)
    answer.raise_for_status()
    assert "sha256:" + hashlib.sha256(answer.content).hexdigest() == digest
    return answer.content


def key_pair(folder: Path, name: str = "signing") -> tuple[Path, Path, ec.EllipticCurvePublicKey]:
    private = ec.generate_private_key(ec.SECP256R1())
    key, pub = folder / f"{name}.key", folder / f"{name}.pub"
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    pub.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, pub, private.public_key()


def assert_signed(env: dict, ecr_client, digest: str, public: ec.EllipticCurvePublicKey,
                  count: int = 1) -> None:
    """`digest` has `count` signatures under its .sig tag, each by `public`, naming it."""
    manifest = json.loads(skopeo_raw(env, ecr_client, f"sha256-{digest[7:]}.sig"))
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert len(manifest["layers"]) == count
    for layer in manifest["layers"]:
        assert layer["mediaType"] == PAYLOAD
        payload = blob(env, ecr_client, layer["digest"])
        signature = base64.b64decode(layer["annotations"][ANNOTATION])
        public.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        claims = json.loads(payload)["critical"]
        assert claims["image"]["docker-manifest-digest"] == digest
        assert claims["type"] == "cosign container image signature"
        assert claims["identity"]["docker-reference"] == \
            f"{env['SHIPYARD_REGISTRY']}/{env['ECR_REPOSITORY']}"
