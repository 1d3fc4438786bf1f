"""moto's ECR made to agree with the real registry behind the sandbox.

moto alone computes fake digests and stores no blobs. Here the registry is the truth:
- every manifest pushed through the front proxy is recorded in moto with its true digest,
  media type, size and tags (`record_push`), and scanned on push when the repository asks;
- `BatchDeleteImage` also deletes from the registry (a whole image by digest, or one tag);
- `GetAuthorizationToken` returns the registry's basic-auth password and its endpoint;
- scan findings come from the packages inside the pushed image (`scanner`), reported as ECR
  basic scanning does (COMPLETE, `findings`) or as enhanced scanning does (ACTIVE,
  `enhancedFindings`), and a second scan on the same day is `LimitExceeded`, as on ECR;
- a cross-repository blob mount is allowed only as ECR allows it (`mount_allowed`).

Everything is patched onto moto's classes, so this module must only be imported by the sandbox
process, never by product code.
"""

from __future__ import annotations

import json
import shutil
import threading
from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from moto.core.exceptions import ServiceException
from moto.ecr import models as ecr_models
from moto.ecr import responses as ecr_responses

from shipyard_sandbox import account_settings
from shipyard_sandbox.registry import REGISTRY_USER

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
TOKEN_LIFETIME = timedelta(hours=12)  # as ECR's tokens
_lock = threading.RLock()


class UnsupportedImageTypeException(ServiceException):
    code = "UnsupportedImageTypeException"


class SandboxImage(ecr_models.Image):
    """An ECR image whose size is that of its real layers."""

    def get_image_size_in_bytes(self) -> int | None:
        manifest = json.loads(self.image_manifest)
        if "layers" not in manifest:
            return None
        return sum(layer.get("size", 0) for layer in manifest["layers"]) + manifest.get(
            "config", {}).get("size", 0)


class EcrBridge:
    """Connects moto's ECR backend of one account and region to the registry storage."""

    def __init__(
        self,
        *,
        account_id: str,
        region: str,
        password: str,
        registry_endpoint: str,
        storage_dir: Path,
        delete_manifest: Callable[[str, str], None],
        findings_for: Callable[[str, str], list[dict[str, Any]]],
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.password = password
        self.registry_endpoint = registry_endpoint
        self.storage_dir = storage_dir
        self.delete_manifest = delete_manifest
        self.findings_for = findings_for

    @property
    def backend(self) -> ecr_models.ECRBackend:
        return ecr_models.ecr_backends[self.account_id][self.region]

    # --- called by the front proxy -------------------------------------------------------

    def repository(self, name: str) -> Any | None:
        return self.backend.repositories.get(name)

    def tag_is_immutable(self, repository_name: str, tag: str) -> bool:
        """Whether ECR would refuse to move `tag` (immutability minus its exclusion filters)."""
        repo = self.repository(repository_name)
        if repo is None:
            return False
        mutability = repo.image_tag_mutability
        filters = [f["filter"] for f in (repo.image_tag_mutability_exclusion_filters or [])]
        excluded = any(fnmatchcase(tag, pattern) for pattern in filters)
        if mutability == "IMMUTABLE":
            return True
        if mutability == "IMMUTABLE_WITH_EXCLUSION":
            return not excluded
        if mutability == "MUTABLE_WITH_EXCLUSION":
            return excluded
        return False

    def mount_allowed(self, repository_name: str, source_name: str) -> bool:
        """Whether ECR would mount a blob of `source_name` into `repository_name`: only with
        the registry's BLOB_MOUNTING setting ENABLED, and between repositories encrypted alike
        (same type and KMS key)."""
        if account_settings.setting(self.backend, account_settings.BLOB_MOUNTING) != "ENABLED":
            return False
        target, source = self.repository(repository_name), self.repository(source_name)
        if target is None or source is None:
            return False

        def encryption(repo: Any) -> tuple[str | None, str | None]:
            config = repo.encryption_configuration or {}
            return config.get("encryptionType"), config.get("kmsKey")

        return encryption(target) == encryption(source)

    def record_push(self, repository_name: str, reference: str, manifest: bytes,
                    media_type: str, digest: str) -> None:
        """Record a manifest the registry accepted, as ECR would list it."""
        with _lock:
            repo = self.repository(repository_name)
            if repo is None:
                return
            text = manifest.decode("utf-8")
            image = next((i for i in repo.images if i.get_image_digest() == digest), None)
            is_tag = not reference.startswith("sha256:")
            if is_tag:
                for other in repo.images:
                    if other is not image and reference in other.image_tags:
                        other.remove_tag(reference)
                        if not other.image_tags:
                            other.image_tag = None
            if image is None:
                image = SandboxImage(self.account_id, reference if is_tag else None, text,
                                     repository_name, media_type, digest)
                repo.images.append(image)
                if self._scans_on_push(repo) and media_type not in INDEX_TYPES:
                    image.last_scan = datetime.now(UTC).replace(tzinfo=None)
            elif is_tag:
                image.update_tag(reference)

    def _scans_on_push(self, repo: Any) -> bool:
        if repo.image_scanning_configuration.get("scanOnPush"):
            return True
        config = self.backend.registry_scanning_configuration
        for rule in config.get("rules", []):
            if rule.get("scanFrequency") in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN"):
                for repo_filter in rule.get("repositoryFilters", []):
                    if fnmatchcase(repo.name, repo_filter.get("filter", "")):
                        return True
        return False

    # --- deletes ----------------------------------------------------------------------

    def after_delete(self, repository_name: str, before: dict[str, list[str]]) -> None:
        """Make the registry match moto after BatchDeleteImage changed `before`."""
        repo = self.repository(repository_name)
        after = {i.get_image_digest(): list(i.image_tags) for i in repo.images} if repo else {}
        for digest, tags in before.items():
            if digest not in after:
                self.delete_manifest(repository_name, digest)
                continue
            for tag in set(tags) - set(after[digest]):
                self._untag(repository_name, tag)

    def _untag(self, repository_name: str, tag: str) -> None:
        # The distribution API cannot delete a tag alone (only a manifest by digest), but ECR
        # can. The sandbox owns the registry's storage, so it removes the tag link itself.
        link = (self.storage_dir / "docker/registry/v2/repositories" / repository_name
                / "_manifests/tags" / tag)
        shutil.rmtree(link, ignore_errors=True)

    # --- scans ------------------------------------------------------------------------

    def scan_response(self, repository_name: str, image: Any, response: dict) -> dict:
        """Replace moto's canned findings with the image's real ones."""
        findings = self.findings_for(repository_name, image.get_image_digest())
        counts: dict[str, int] = {}
        for finding in findings:
            counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
        scan = response["imageScanFindings"]
        scan["findingSeverityCounts"] = counts
        if self.backend.registry_scanning_configuration.get("scanType") == "ENHANCED":
            # Enhanced scanning (Inspector) never reports COMPLETE: it keeps scanning.
            response["imageScanStatus"] = {"status": "ACTIVE",
                                           "description": "Continuous scan is selected."}
            scan.pop("findings", None)
            scan["enhancedFindings"] = [_enhanced(f) for f in findings]
        else:
            scan["findings"] = findings
        return response


def _enhanced(finding: dict[str, Any]) -> dict[str, Any]:
    attributes = {a["key"]: a["value"] for a in finding.get("attributes", [])}
    return {
        "title": finding["name"],
        "description": finding.get("description", ""),
        "severity": finding["severity"],
        "status": "ACTIVE",
        "type": "PACKAGE_VULNERABILITY",
        "packageVulnerabilityDetails": {
            "vulnerabilityId": finding["name"],
            "sourceUrl": finding.get("uri", ""),
            "vulnerablePackages": [{"name": attributes.get("package_name", ""),
                                    "version": attributes.get("package_version", "")}],
        },
    }


def install(bridge: EcrBridge) -> None:
    """Patch moto so that its ECR answers from `bridge`. Idempotent per process."""
    backend_cls = ecr_models.ECRBackend
    original_delete = backend_cls.batch_delete_image
    original_findings = backend_cls.describe_image_scan_findings
    original_start = backend_cls.start_image_scan

    def batch_delete_image(self, repository_name, registry_id=None, image_ids=None):
        with _lock:
            repo = self.repositories.get(repository_name)
            before = {i.get_image_digest(): list(i.image_tags) for i in repo.images} if repo \
                else {}
            result = original_delete(self, repository_name, registry_id, image_ids)
            bridge.after_delete(repository_name, before)
            return result

    def start_image_scan(self, registry_id, repository_name, image_id):
        repo = self._get_repository(repository_name, registry_id)
        image = repo._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
        if image.image_manifest_media_type in INDEX_TYPES:
            raise UnsupportedImageTypeException(
                "The operation is not supported for this image type: image index. "
                "Scan each platform image by its digest.")
        return original_start(self, registry_id, repository_name, image_id)

    def describe_image_scan_findings(self, registry_id, repository_name, image_id):
        response = original_findings(self, registry_id, repository_name, image_id)
        repo = self._get_repository(repository_name, registry_id)
        image = repo._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
        return bridge.scan_response(repository_name, image, response)

    def get_authorization_token(self):
        registry_ids = self._get_param("registryIds") or [self.current_account]
        token = b64encode(f"{REGISTRY_USER}:{bridge.password}".encode()).decode()
        data = [{"authorizationToken": token,
                 "expiresAt": datetime.now(UTC) + TOKEN_LIFETIME,
                 "proxyEndpoint": bridge.registry_endpoint} for _ in registry_ids]
        return ecr_responses.ActionResult({"authorizationData": data})

    account_settings.install()
    backend_cls.batch_delete_image = batch_delete_image
    backend_cls.start_image_scan = start_image_scan
    backend_cls.describe_image_scan_findings = describe_image_scan_findings
    ecr_responses.ECRResponse.get_authorization_token = get_authorization_token
