"""ECR: repositories, registry logins, images, and scans.

The login token is a secret: it is kept in memory, decoded into a basic-auth pair for the
registry client, and never printed or written (`shipyard login` writes it only when asked).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from shipyard.adapters.aws import Aws, call, translated
from shipyard.adapters.credentials import BasicAuth, RegistryLogin
from shipyard.errors import ConflictError, NotFoundError
from shipyard.redaction import register_secret

# Every version, prerelease, sha- and date tag: immutable in a MUTABLE_WITH_EXCLUSION repository.
VERSION_TAG_FILTERS = ("*.*.*", "*-*")
BATCH_DELETE_LIMIT = 100  # BatchDeleteImage takes at most 100 image ids per call
BATCH_GET_LIMIT = 100  # and so does BatchGetImage
MANIFEST_TYPES = ("application/vnd.oci.image.index.v1+json",
                  "application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.list.v2+json",
                  "application/vnd.docker.distribution.manifest.v2+json")


@dataclass(frozen=True)
class RepositorySettings:
    """How Shipyard creates a repository, and what an existing one has."""

    name: str
    scan_on_push: bool = True
    tag_mutability: str = "MUTABLE_WITH_EXCLUSION"
    mutability_exclusions: tuple[str, ...] = VERSION_TAG_FILTERS
    encryption: str = "AES256"
    kms_key: str = ""
    uri: str = ""
    created: bool = False  # made by this command's CreateRepository, not found existing

    def tag_is_immutable(self, tag: str) -> bool:
        excluded = any(fnmatchcase(tag, pattern) for pattern in self.mutability_exclusions)
        if self.tag_mutability == "IMMUTABLE":
            return True
        if self.tag_mutability == "IMMUTABLE_WITH_EXCLUSION":
            return not excluded
        if self.tag_mutability == "MUTABLE_WITH_EXCLUSION":
            return excluded
        return False


class Ecr:
    """The ECR calls Shipyard makes, with errors translated."""

    def __init__(self, aws: Aws) -> None:
        self.client = aws.client("ecr")

    def login(self, registry_id: str | None = None) -> RegistryLogin:
        with translated("ecr:GetAuthorizationToken"):
            kwargs = {"registryIds": [registry_id]} if registry_id else {}
            data = self.client.get_authorization_token(**kwargs)["authorizationData"][0]
        auth = BasicAuth.from_token(data["authorizationToken"],
                                    source="ecr:GetAuthorizationToken")
        register_secret(auth.password)  # masked in every log line from now on
        host = data.get("proxyEndpoint", "").split("://", 1)[-1].rstrip("/")
        return RegistryLogin(auth.username, auth.password, host=host)

    def describe_repository(self, name: str) -> RepositorySettings | None:
        found = call("ecr:DescribeRepositories",
                     lambda: self.client.describe_repositories(repositoryNames=[name]),
                     absent={"RepositoryNotFoundException"})
        if found is None:
            return None
        repo = found["repositories"][0]
        encryption = repo.get("encryptionConfiguration", {})
        return RepositorySettings(
            name=name,
            scan_on_push=repo.get("imageScanningConfiguration", {}).get("scanOnPush", False),
            tag_mutability=repo.get("imageTagMutability", "MUTABLE"),
            mutability_exclusions=tuple(f["filter"] for f in repo.get(
                "imageTagMutabilityExclusionFilters", [])),
            encryption=encryption.get("encryptionType", "AES256"),
            kms_key=encryption.get("kmsKey", ""),
            uri=repo.get("repositoryUri", ""),
        )

    def create_repository(self, settings: RepositorySettings) -> RepositorySettings:
        """Create the repository; if another pipeline just did, describe and use theirs."""
        encryption: dict[str, str] = {"encryptionType": settings.encryption}
        if settings.kms_key:
            encryption["kmsKey"] = settings.kms_key
        kwargs: dict[str, Any] = {
            "repositoryName": settings.name,
            "imageScanningConfiguration": {"scanOnPush": settings.scan_on_push},
            "imageTagMutability": settings.tag_mutability,
            "encryptionConfiguration": encryption,
        }
        if settings.mutability_exclusions and "EXCLUSION" in settings.tag_mutability:
            kwargs["imageTagMutabilityExclusionFilters"] = [
                {"filter": pattern, "filterType": "WILDCARD"}
                for pattern in settings.mutability_exclusions]
        created = call("ecr:CreateRepository", lambda: self.client.create_repository(**kwargs),
                       absent={"RepositoryAlreadyExistsException"})
        if created is not None:
            uri = created["repository"]["repositoryUri"]
            return RepositorySettings(**{**settings.__dict__, "uri": uri, "created": True})
        existing = self.describe_repository(settings.name)
        if existing is None:  # created by another pipeline, then deleted, between two calls
            raise ConflictError(f"repository {settings.name} was created and deleted by "
                                "someone else while this command ran; run it again")
        return existing

    def scan_type(self) -> str:
        """BASIC or ENHANCED, from the registry's scanning configuration."""
        with translated("ecr:GetRegistryScanningConfiguration"):
            config = self.client.get_registry_scanning_configuration()
        return config.get("scanningConfiguration", {}).get("scanType", "BASIC")

    def resolve(self, repository: str, tag: str) -> str:
        """The digest a tag points at in ECR."""
        with translated("ecr:DescribeImages"):
            details = self.client.describe_images(repositoryName=repository,
                                                  imageIds=[{"imageTag": tag}])["imageDetails"]
        return details[0]["imageDigest"]

    def image_tags(self, repository: str, digests: Iterable[str]) -> dict[str, list[str]]:
        """Every tag of each image, by digest, in one DescribeImages call (an image that is
        gone meanwhile is left out)."""
        ids = [{"imageDigest": digest} for digest in dict.fromkeys(digests)]
        if not ids:
            return {}
        found = call("ecr:DescribeImages",
                     lambda: self.client.describe_images(repositoryName=repository,
                                                         imageIds=ids),
                     absent={"ImageNotFoundException"})
        return {d["imageDigest"]: list(d.get("imageTags") or [])
                for d in (found or {}).get("imageDetails", [])}

    def images(self, repository: str, limit: int = 100_000) -> list[dict[str, Any]]:
        """Every image's DescribeImages detail (a page each 1000), at most `limit`."""
        found: list[dict[str, Any]] = []
        token = ""
        for _ in range(max(1, -(-limit // 1000))):  # bounded: one page per 1000 wanted
            with translated("ecr:DescribeImages"):
                page = self.client.describe_images(
                    repositoryName=repository, maxResults=1000,
                    **({"nextToken": token} if token else {}))
            found += page.get("imageDetails", [])
            token = page.get("nextToken", "")
            if not token or len(found) >= limit:
                break
        return found[:limit]

    def manifests(self, repository: str, digests: Iterable[str]) -> dict[str, str]:
        """Each image's manifest text by digest, from BatchGetImage, 100 at a time (an image
        gone meanwhile is left out)."""
        ids = [{"imageDigest": d} for d in dict.fromkeys(digests)]
        texts: dict[str, str] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            with translated("ecr:BatchGetImage"):
                response = self.client.batch_get_image(
                    repositoryName=repository, imageIds=ids[start:start + BATCH_GET_LIMIT],
                    acceptedMediaTypes=list(MANIFEST_TYPES))
            for image in response.get("images", []):
                texts[image["imageId"]["imageDigest"]] = image["imageManifest"]
        return texts

    def image_manifest(self, repository: str, digest: str) -> tuple[str, str]:
        """The manifest text and media type of an image, from BatchGetImage."""
        with translated("ecr:BatchGetImage"):
            response = self.client.batch_get_image(
                repositoryName=repository, imageIds=[{"imageDigest": digest}],
                acceptedMediaTypes=list(MANIFEST_TYPES))
        images = response.get("images", [])
        if not images:
            reason = (response.get("failures") or [{}])[0].get("failureReason", "not found")
            raise NotFoundError(f"image {repository}@{digest} is not in ECR ({reason}); "
                                "push it first")
        image = images[0]
        return image["imageManifest"], image.get("imageManifestMediaType", "")

    def start_scan(self, repository: str, digest: str) -> bool:
        """Start a basic scan; False when ECR says today's scan already ran (LimitExceeded)."""
        started = call("ecr:StartImageScan",
                       lambda: self.client.start_image_scan(repositoryName=repository,
                                                            imageId={"imageDigest": digest}),
                       absent={"LimitExceededException"})
        return started is not None

    def scan_findings(self, repository: str, digest: str) -> dict[str, Any] | None:
        """All pages of DescribeImageScanFindings merged; None when no scan exists yet."""
        def all_pages() -> dict[str, Any] | None:
            merged = None
            pages = self.client.get_paginator("describe_image_scan_findings").paginate(
                repositoryName=repository, imageId={"imageDigest": digest})
            for page in pages:
                merged = _merge_findings(merged, page)
            return merged

        return call("ecr:DescribeImageScanFindings", all_pages, absent={"ScanNotFoundException"})

    def put_lifecycle_policy(self, repository: str, text: str) -> None:
        """PutLifecyclePolicy: replaces the repository's lifecycle policy."""
        with translated("ecr:PutLifecyclePolicy"):
            self.client.put_lifecycle_policy(repositoryName=repository,
                                             lifecyclePolicyText=text)

    def delete_images(self, repository: str, digests: Iterable[str]) -> Iterator[dict]:
        """BatchDeleteImage in batches of at most 100; yields each batch's response."""
        ids = [{"imageDigest": d} for d in digests]
        for start in range(0, len(ids), BATCH_DELETE_LIMIT):
            with translated("ecr:BatchDeleteImage"):
                yield self.client.batch_delete_image(
                    repositoryName=repository, imageIds=ids[start:start + BATCH_DELETE_LIMIT])


def _merge_findings(merged: dict[str, Any] | None, page: dict[str, Any]) -> dict[str, Any]:
    if merged is None:
        return {k: v for k, v in page.items() if k != "ResponseMetadata"}
    findings = merged.setdefault("imageScanFindings", {})
    for key in ("findings", "enhancedFindings"):
        if key in page.get("imageScanFindings", {}):
            findings.setdefault(key, []).extend(page["imageScanFindings"][key])
    return merged
