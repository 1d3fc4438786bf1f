"""`shipyard verify-image`: every manifest of an image carries a signature by one of the keys.

An image verifies when its index (if it is one) and each of its platform images has at
least one stored signature that verifies with one of the keys *and* whose payload names that
manifest's digest. Cosign's rule is the same (`cosign verify --key`); the Rekor transparency
log cosign also consults by default is not, since Shipyard's signatures are not uploaded
there (see the README's signing section). Only reads; the outcome is data, the CLI decides
the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipyard.adapters.signing_keys import VerifyingKey, open_key
from shipyard.config import Config
from shipyard.usecases.context import Context
from shipyard.usecases.image_signatures import (
    Check,
    check_signature,
    image_manifests,
    resolve_image,
    stored_signatures,
)
from shipyard.usecases.target import Target


@dataclass(frozen=True)
class ManifestVerdict:
    digest: str
    platform: str
    tag: str
    checks: tuple[Check, ...]

    @property
    def verified_by(self) -> Check | None:
        return next((check for check in self.checks if check.valid), None)

    @property
    def reason(self) -> str:
        """Why it verifies, or why not, in a few words."""
        good = self.verified_by
        if good is not None:
            return f"signed by {good.key} ({good.fingerprint})"
        if not self.checks:
            return f"no signatures ({self.tag} is absent)"
        problems = "; ".join(dict.fromkeys(check.problem for check in self.checks))
        count = len(self.checks)
        return f"{count} signature{'s' if count > 1 else ''}, none valid: {problems}"


@dataclass
class VerifyResult:
    image: str
    keys: list[str]
    manifests: list[ManifestVerdict] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.manifests) and all(m.verified_by for m in self.manifests)

    @property
    def failures(self) -> list[ManifestVerdict]:
        return [m for m in self.manifests if m.verified_by is None]

    def summary(self) -> dict[str, Any]:
        return {"image": self.image, "keys": self.keys, "verified": self.verified,
                "manifests": [{"digest": m.digest, "platform": m.platform, "tag": m.tag,
                               "verified": m.verified_by is not None, "reason": m.reason}
                              for m in self.manifests]}


def verify_image(ctx: Context, target: Target, reference: str,
                 keys: list[VerifyingKey]) -> VerifyResult:
    """Check the signatures of `reference` and of each of its platform images."""
    repository = target.repository
    login = ctx.ecr.login(target.account_id).for_host(target.registry)
    for key in keys:
        key.public_key()  # a KMS key of the wrong kind fails before any registry read
    with ctx.registry(target.registry, auth=login) as registry:
        digest = resolve_image(registry, repository, reference)
        result = VerifyResult(f"{target.image_base}@{digest}", [key.name for key in keys])
        for manifest in image_manifests(registry, repository, digest):
            stored = stored_signatures(registry, repository, manifest.digest)
            checks = tuple(check_signature(layer, stored.payloads.get(layer.payload_digest),
                                           manifest.digest, keys)
                           for layer in stored.layers)
            result.manifests.append(ManifestVerdict(manifest.digest, manifest.platform,
                                                    stored.tag, checks))
    return result


def open_verify_keys(config: Config, ctx: Context, flags: list[str]) -> list[VerifyingKey]:
    """The keys whose signatures count: `--key` (each), then [signing] verify_keys, then the
    signing key (`SHIPYARD_SIGNING_KEY` or [signing] key). Paths from shipyard.toml are
    relative to its folder; from flags, to the working directory."""
    if flags:
        names, base = flags, None
    elif config.signing.verify_keys:
        names, base = config.signing.verify_keys, config.project_dir
    else:
        from shipyard.usecases.sign import open_signing_key

        return [open_signing_key(config, ctx, None)]
    return [open_key(name, kms=lambda: ctx.kms, env=ctx.env, base=base)
            for name in dict.fromkeys(names)]
