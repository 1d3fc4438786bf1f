"""`shipyard sign`: cosign-compatible signatures for an image, its index and every platform.

Reads and signs first, writes last: the image and its platform images are resolved, the key
is opened (a KMS key's public half read, its kind checked), the signatures already stored are
read, and every new signature is made and checked against the key's public half, all before
the first write. Then one signature image per manifest is pushed under its `sha256-<hex>.sig`
tag, holding the signatures it held plus ours. A manifest the key has signed already is left
alone, so signing twice (a promotion of an image signed when it was built) writes nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.adapters.oci_layout.artifact import artifact_layout
from shipyard.adapters.oci_layout.descriptor import sha256_digest
from shipyard.adapters.signing_keys import (
    KmsKey,
    PemKey,
    SigningKey,
    fingerprint,
    open_key,
    verifies,
)
from shipyard.config import Config
from shipyard.domain.signatures import (
    SignatureLayer,
    signature_config,
    signature_manifest,
    simple_signing_payload,
)
from shipyard.errors import ConflictError, ShipyardError, UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.image_signatures import (
    Manifest,
    SignatureReader,
    StoredSignatures,
    check_signature,
    image_manifests,
    resolve_image,
    stored_signatures,
)
from shipyard.usecases.target import Target


@dataclass(frozen=True)
class SignedManifest:
    digest: str
    platform: str
    tag: str
    state: str  # "signed" (written now) or "already signed" (by this key, earlier)


@dataclass
class SignResult:
    image: str  # registry/repository@digest
    key: str
    fingerprint: str
    manifests: list[SignedManifest] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(1 for m in self.manifests if m.state == "signed")

    def summary(self) -> dict[str, Any]:
        return {"image": self.image, "key": self.key, "fingerprint": self.fingerprint,
                "signed": self.written,
                "manifests": [{"digest": m.digest, "platform": m.platform, "tag": m.tag,
                               "state": m.state} for m in self.manifests]}


@dataclass(frozen=True)
class _Planned:
    manifest: Manifest
    stored: StoredSignatures
    new: SignatureLayer | None  # None: the key signed it already
    payload: bytes


def sign_image(ctx: Context, target: Target, reference: str, key: SigningKey) -> SignResult:
    """Sign `reference` (a tag or digest of the target repository) and its platform images."""
    repository = target.repository
    login = ctx.ecr.login(target.account_id).for_host(target.registry)
    with ctx.registry(target.registry, auth=login) as registry:
        digest = resolve_image(registry, repository, reference)
        public = key.public_key()
        result = SignResult(f"{target.image_base}@{digest}", key.name, fingerprint(public))
        plans = [_plan(registry, target, manifest, key)
                 for manifest in image_manifests(registry, repository, digest)]
        _check_replaceable(ctx, target, [plan for plan in plans
                                         if plan.new is not None and plan.stored.layers])
        # Every read and every signature is done: the writes start here.
        for plan in plans:
            if plan.new is not None:
                _push_signatures(registry, repository, plan)
            result.manifests.append(SignedManifest(
                plan.manifest.digest, plan.manifest.platform, plan.stored.tag,
                "signed" if plan.new is not None else "already signed"))
    return result


def _plan(registry: SignatureReader, target: Target, manifest: Manifest,
          key: SigningKey) -> _Planned:
    stored = stored_signatures(registry, target.repository, manifest.digest)
    for layer in stored.layers:
        if check_signature(layer, stored.payloads.get(layer.payload_digest),
                           manifest.digest, [key]).valid:
            return _Planned(manifest, stored, None, b"")
    payload = simple_signing_payload(target.image_base, manifest.digest)
    signature = key.sign(payload)
    if not verifies(key.public_key(), payload, signature):
        # A KMS key answering with another key's signature, say: never store what fails.
        raise ShipyardError(f"key {key.name} made a signature its own public key does not "
                            "verify; check that the key is the one meant")
    return _Planned(manifest, stored, SignatureLayer(sha256_digest(payload), len(payload),
                                                     signature), payload)


def _check_replaceable(ctx: Context, target: Target, replacing: list[_Planned]) -> None:
    """Adding a signature rewrites the signature image under its tag: refuse now, before
    any write, when the repository keeps that tag immutable (GamePulse's `*-*` filter
    matches `sha256-<hex>.sig`), rather than fail half-way through the manifests."""
    if not replacing:
        return
    settings = ctx.ecr.describe_repository(target.repository)
    tag = replacing[0].stored.tag
    if settings is not None and settings.tag_is_immutable(tag):
        raise ConflictError(
            f"{target.repository}:{tag} holds signatures by another key, and the repository "
            f"keeps that tag immutable ({settings.tag_mutability}, filters "
            f"{', '.join(settings.mutability_exclusions) or 'none'}), so a second key's "
            "signature cannot be added; verify with the key that signed it, or sign in a "
            "repository whose exclusion filters leave sha256-*.sig tags mutable")


def _push_signatures(registry: Any, repository: str, plan: _Planned) -> None:
    assert plan.new is not None
    layers = [*plan.stored.layers, plan.new]
    config = signature_config(layers)
    manifest = signature_manifest(layers, sha256_digest(config), len(config))
    blobs = {**plan.stored.payloads, plan.new.payload_digest: plan.payload,
             sha256_digest(config): config}
    with tempfile.TemporaryDirectory(prefix="shipyard-signature-") as folder:
        layout = artifact_layout(Path(folder), manifest, blobs)
        registry.push_layout(layout, repository, [plan.stored.tag])


def signing_key_name(config: Config, env: Mapping[str, str], flag: str | None) -> str:
    """The key to sign with: `--key`, then `SHIPYARD_SIGNING_KEY`, then [signing] key."""
    name = flag or env.get("SHIPYARD_SIGNING_KEY") or config.signing.key
    if not name:
        raise UsageError("no signing key: pass --key (a PEM private key file or "
                         "awskms:///alias/NAME), set SHIPYARD_SIGNING_KEY, or set [signing] "
                         "key in shipyard.toml")
    return name


def open_signing_key(config: Config, ctx: Context, flag: str | None) -> PemKey | KmsKey:
    """The signing key, opened (a PEM file read, a KMS reference parsed; KMS not called).
    A key from shipyard.toml is relative to its folder; one from a flag or the environment
    to the working directory, as a shell user expects."""
    name = signing_key_name(config, ctx.env, flag)
    from_config = not flag and not ctx.env.get("SHIPYARD_SIGNING_KEY")
    return open_key(name, kms=lambda: ctx.kms, env=ctx.env,
                    base=config.project_dir if from_config else None)
