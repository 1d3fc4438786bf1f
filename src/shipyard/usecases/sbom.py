"""`shipyard sbom`: a CycloneDX SBOM of each platform image, attached to it and signed.

For each platform image of IMAGE (the image itself when it is not an index): its layers are
read from the registry and stacked (`adapters.image_files`), the dpkg database, os-release
and Python metadata become a CycloneDX document (`domain.sbom`), and the document is pushed as
an OCI artifact whose `subject` is the platform image, tagged `sha256-<hex>.sbom`. With a key,
each SBOM artifact is then signed like an image (`sha256-<sbom hex>.sig`).

Reads first: every layer is read and every document made before the first push. A platform
image that has an SBOM attached already keeps it (its layers are not read again), so running
it twice, or on an image promoted from an earlier build, attaches nothing new.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from shipyard.adapters.image_files import root_files
from shipyard.adapters.oci_layout.artifact import artifact_layout
from shipyard.adapters.oci_layout.descriptor import sha256_digest
from shipyard.adapters.signing_keys import SigningKey
from shipyard.domain.sbom import (
    EMPTY_CONFIG,
    component_counts,
    cyclonedx,
    is_inventory_file,
    sbom_manifest,
    sbom_tag,
)
from shipyard.usecases.context import Context
from shipyard.usecases.image_signatures import image_manifests, resolve_image
from shipyard.usecases.target import Target

# Layers are read whole from the registry (as blobs, their digest checked); a layer larger
# than this is refused rather than held in memory.
MAX_LAYER_BYTES = 2 * 1024 * 1024 * 1024


@dataclass
class AttachedSbom:
    platform: str
    image_digest: str
    tag: str
    state: str  # "attached" (now) or "already attached"
    sbom_digest: str = ""  # the artifact manifest's digest
    counts: dict[str, int] = field(default_factory=dict)
    path: str = ""  # where --output wrote the document


@dataclass
class SbomResult:
    image: str
    sboms: list[AttachedSbom] = field(default_factory=list)
    signed: list[Any] = field(default_factory=list)  # SignResult of each SBOM artifact

    def summary(self) -> dict[str, Any]:
        return {"image": self.image,
                "sboms": [{"platform": s.platform, "image_digest": s.image_digest,
                           "tag": s.tag, "state": s.state, "digest": s.sbom_digest,
                           "components": s.counts, "path": s.path} for s in self.sboms],
                "signed": [result.summary() for result in self.signed]}


@dataclass(frozen=True)
class _Planned:
    sbom: AttachedSbom
    manifest: bytes = b""
    document: bytes = b""


def attach_sboms(ctx: Context, target: Target, reference: str, *,
                 key: SigningKey | None = None, output: Path | None = None) -> SbomResult:
    """Make, attach (and with `key`, sign) the SBOM of each platform image of `reference`."""
    repository = target.repository
    if key is not None:
        key.public_key()  # a key that cannot sign stops here, before any write
    login = ctx.ecr.login(target.account_id).for_host(target.registry)
    with ctx.registry(target.registry, auth=login) as registry:
        digest = resolve_image(registry, repository, reference)
        result = SbomResult(f"{target.image_base}@{digest}")
        platforms = [m for m in image_manifests(registry, repository, digest)
                     if m.platform not in ("index", "unknown/unknown")]
        plans = [_plan(registry, target, m.digest, m.platform) for m in platforms]
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
            for plan in plans:
                if plan.document:
                    path = output / f"{plan.sbom.platform.replace('/', '-')}.cdx.json"
                    path.write_bytes(plan.document)
                    plan.sbom.path = str(path)
        # Every layer is read and every document made: the writes start here.
        for plan in plans:
            if plan.manifest:
                blobs = {sha256_digest(plan.document): plan.document,
                         sha256_digest(EMPTY_CONFIG): EMPTY_CONFIG}
                with tempfile.TemporaryDirectory(prefix="shipyard-sbom-") as folder:
                    layout = artifact_layout(Path(folder), plan.manifest, blobs)
                    registry.push_layout(layout, repository, [plan.sbom.tag])
            result.sboms.append(plan.sbom)
    if key is not None:
        from shipyard.usecases.sign import sign_image

        result.signed = [sign_image(ctx, target, sbom.sbom_digest, key)
                         for sbom in result.sboms]
    return result


def _plan(registry: Any, target: Target, digest: str, platform: str) -> _Planned:
    repository = target.repository
    tag = sbom_tag(digest)
    existing = registry.manifest_digest(repository, tag)
    if existing is not None:
        content, _, _ = registry.get_manifest(repository, existing)
        layers = json.loads(content).get("layers") or [{}]
        document = json.loads(registry.get_small_blob(repository, layers[0].get("digest")))
        return _Planned(AttachedSbom(platform, digest, tag, "already attached", existing,
                                     component_counts(document)))
    content, media_type, _ = registry.get_manifest(repository, digest)
    manifest = json.loads(content)
    config = json.loads(registry.get_small_blob(repository, manifest["config"]["digest"]))

    def opener(layer_digest: str) -> Callable[[], IO[bytes]]:
        return lambda: io.BytesIO(registry.get_small_blob(repository, layer_digest,
                                                          max_bytes=MAX_LAYER_BYTES))

    files = root_files(((layer["digest"], opener(layer["digest"]))
                        for layer in manifest.get("layers") or []), is_inventory_file)
    document = cyclonedx(image=target.image_base, digest=digest, platform=platform,
                         created=str(config.get("created") or ""), files=files,
                         tool_version=_shipyard_version())
    sbom = json.dumps(document, separators=(",", ":")).encode()
    artifact = sbom_manifest(sbom, sha256_digest(sbom), sha256_digest(EMPTY_CONFIG),
                             {"mediaType": media_type, "digest": digest, "size": len(content)})
    return _Planned(AttachedSbom(platform, digest, tag, "attached", sha256_digest(artifact),
                                 component_counts(document)), artifact, sbom)


def _shipyard_version() -> str:
    try:
        return version("shipyard")
    except PackageNotFoundError:
        return "unknown"
