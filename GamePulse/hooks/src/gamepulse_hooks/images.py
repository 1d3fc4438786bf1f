"""Container images in ECR: which images are ECR's, whether they exist, and their version.

An image is checked in ECR when its registry host is this account's ECR in this region
(ACCOUNT.dkr.ecr.REGION.amazonaws.com) or one of ECR_REGISTRY's hosts (comma-separated: an
alias of the same registry); any other image (a public sidecar) is listed as not checked.
The version being deployed is the container's GAMEPULSE_VERSION when the task definition sets
it (the app reports that first), otherwise the image's version tag: Shipyard tags each image
with its version (X.Y.Z, with a prerelease and build after `-`) besides moving tags such as
`latest` and `X.Y`, and `sha-...`/`DATE-sha` tags, none of which look like X.Y.Z.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = (*INDEX_TYPES, "application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}  # runtimePlatform -> OCI platform
VERSION_TAG = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class ImageRef:
    host: str
    repository: str
    tag: str  # "" when pinned by digest only
    digest: str  # "" when named by tag

    @property
    def image_id(self) -> dict[str, str]:
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag or
                                                                  "latest"}


def parse_image(image: str) -> ImageRef:
    """HOST/REPOSITORY[:TAG][@DIGEST]; HOST is "" for Docker Hub's short names."""
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = "", rest
    repository, colon, tag = path.rpartition(":")
    if not colon:
        repository, tag = path, ""
    return ImageRef(host, repository, tag, digest)


def ecr_hosts(account_id: str, region: str, extra: str) -> set[str]:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    hosts = {f"{account_id}.dkr.ecr.{region}.{suffix}"}
    hosts.update(host.strip() for host in extra.split(",") if host.strip())
    return hosts


def describe(ecr: Any, ref: ImageRef) -> dict[str, Any] | None:
    """DescribeImages' detail of the image, or None when ECR has no such image/repository."""
    try:
        details = ecr.describe_images(repositoryName=ref.repository,
                                      imageIds=[ref.image_id])["imageDetails"]
    except ecr.exceptions.ImageNotFoundException:
        return None
    except ecr.exceptions.RepositoryNotFoundException:
        return None
    return details[0] if details else None


def platforms(ecr: Any, ref: ImageRef, digest: str) -> set[str] | None:
    """The architectures of an index (BatchGetImage), or None for a single-platform manifest
    (which does not say its architecture). Raises LookupError when ECR cannot return it."""
    answer = ecr.batch_get_image(repositoryName=ref.repository,
                                 imageIds=[{"imageDigest": digest}],
                                 acceptedMediaTypes=list(MANIFEST_TYPES))
    images = answer.get("images") or []
    if not images:
        reason = (answer.get("failures") or [{}])[0].get("failureReason", "not returned")
        raise LookupError(reason)
    manifest = json.loads(images[0]["imageManifest"])
    if "manifests" not in manifest:
        return None
    return {str((m.get("platform") or {}).get("architecture")) for m in manifest["manifests"]
            if (m.get("platform") or {}).get("os", "linux") == "linux"}


def version_tags(detail: dict[str, Any]) -> list[str]:
    return sorted(tag for tag in detail.get("imageTags") or [] if VERSION_TAG.match(tag))


def environment_value(container: dict[str, Any], name: str) -> str:
    for variable in container.get("environment") or []:
        if variable.get("name") == name:
            return str(variable.get("value") or "")
    return ""
