"""An image's OCI labels (its config's `Labels`), read from ECR and the registry.

`shipyard push` labels every image with `org.opencontainers.image.version` (and revision,
source, created), so what a digest is can be told without a tag: `deploy` learns the version
it deploys from it, `status` the version that runs. For an index, the labels of the platform
image wanted (the first, when none is named) stand for it: every platform image of one push
carries the same labels.
"""

from __future__ import annotations

import json
from typing import Any

from shipyard.usecases.context import Context
from shipyard.usecases.target import Target

VERSION_LABEL = "org.opencontainers.image.version"


def image_labels(ctx: Context, target: Target, repository: str, digest: str,
                 architecture: str = "") -> dict[str, str]:
    """The labels of image `repository@digest` ({} when it has none)."""
    manifest = json.loads(ctx.ecr.image_manifest(repository, digest)[0])
    if "manifests" in manifest:
        entries = [m for m in manifest["manifests"]
                   if (m.get("platform") or {}).get("os") not in (None, "unknown")]
        wanted = [m for m in entries
                  if (m.get("platform") or {}).get("architecture") == architecture] or entries
        if not wanted:
            return {}
        manifest = json.loads(ctx.ecr.image_manifest(repository, wanted[0]["digest"])[0])
    config_digest = (manifest.get("config") or {}).get("digest", "")
    login = ctx.ecr.login(target.account_id).for_host(target.registry)
    with ctx.registry(target.registry, auth=login) as registry:
        config: Any = json.loads(registry.get_small_blob(repository, config_digest))
    labels = ((config or {}).get("config") or {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def image_version(ctx: Context, target: Target, repository: str, digest: str) -> str:
    """The version label of an image, "" when it has none."""
    return image_labels(ctx, target, repository, digest).get(VERSION_LABEL, "")
