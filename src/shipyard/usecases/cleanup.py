"""`shipyard cleanup`: delete the service repository's images that [cleanup] lets go, never
one that is in use or that a kept image needs (`domain.retention` decides).

Reads first: every image (DescribeImages), the manifests of indexes and of artifacts (their
children and subjects, BatchGetImage), and what the configured clusters' services and task
sets run or are deploying (ListServices, DescribeServices, DescribeTaskDefinition), images
named by tag resolved to digests through the repository's own tags. Then, only when asked,
the deletes: BatchDeleteImage, 100 digests a call, each failure reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shipyard.config import Config
from shipyard.domain.names import parse_image_reference
from shipyard.domain.retention import (
    Decision,
    RetentionPlan,
    RetentionPolicy,
    StoredImage,
    plan_retention,
)
from shipyard.errors import NotFoundError
from shipyard.usecases.context import Context
from shipyard.usecases.target import Target, resolve_target

INDEX_TYPES = frozenset({"application/vnd.oci.image.index.v1+json",
                         "application/vnd.docker.distribution.manifest.list.v2+json"})
IMAGE_CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json",
                                "application/vnd.docker.container.image.v1+json"})


@dataclass(frozen=True)
class CleanupPlan:
    target: Target
    policy: RetentionPolicy
    clusters: tuple[str, ...]
    in_use: Mapping[str, str]  # digest -> where
    retention: RetentionPlan
    manifests_read: int

    def to_json(self) -> dict[str, Any]:
        return {"repository": self.target.repository, "registry": self.target.registry,
                "clusters": list(self.clusters), "policy": self.policy.__dict__ | {
                    "keep_tags": list(self.policy.keep_tags)},
                "images": len(self.retention.decisions),
                "delete": [_decision(d) for d in self.retention.deleted],
                "keep": [_decision(d) for d in self.retention.kept]}


@dataclass
class CleanupResult:
    plan: CleanupPlan
    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)  # digest, code, reason
    calls: int = 0  # BatchDeleteImage calls made

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "dry_run": self.dry_run, "deleted": self.deleted,
                "failures": self.failures, "delete_calls": self.calls}


def _decision(decision: Decision) -> dict[str, Any]:
    image = decision.image
    return {"digest": image.digest, "tags": list(image.tags),
            "pushed_at": image.pushed_at.isoformat(), "reason": decision.reason}


def policy_of(config: Config) -> RetentionPolicy:
    settings = config.cleanup
    return RetentionPolicy(settings.keep_releases, settings.prerelease_days,
                           settings.prereleases_per_branch, tuple(settings.keep_tags),
                           settings.untagged_hours)


def plan_cleanup(config: Config, ctx: Context, *, now: datetime) -> CleanupPlan:
    """Everything read and decided; nothing written."""
    target = resolve_target(config, ctx)
    ecr = ctx.ecr
    if ecr.describe_repository(target.repository) is None:
        raise NotFoundError(f"repository {target.repository} does not exist in ECR "
                            f"({target.registry}); push an image first, or check "
                            "[service] repository")
    details = ecr.images(target.repository)
    read = [d["imageDigest"] for d in details if _needs_manifest(d)]
    manifests = ecr.manifests(target.repository, read)
    images = [_stored(d, manifests.get(d["imageDigest"])) for d in details]
    tags = {tag: image.digest for image in images for tag in image.tags}
    clusters = clusters_of(config)
    in_use = images_in_use(ctx, clusters, target, tags)
    policy = policy_of(config)
    return CleanupPlan(target, policy, clusters, in_use,
                       plan_retention(images, policy, in_use=in_use, now=now), len(read))


def clusters_of(config: Config) -> tuple[str, ...]:
    """The clusters whose services keep what they use: [cleanup] clusters, else the
    environments'."""
    return tuple(config.cleanup.clusters) or tuple(dict.fromkeys(
        config.environment(name).cluster for name in config.environments))


def _needs_manifest(detail: Mapping[str, Any]) -> bool:
    """An index (its children), an artifact (its subject), and, where DescribeImages does
    not say what the config is, an untagged image (a referrer is untagged)."""
    if detail.get("imageManifestMediaType") in INDEX_TYPES:
        return True
    artifact = detail.get("artifactMediaType")
    if artifact:
        return artifact not in IMAGE_CONFIG_TYPES
    return not detail.get("imageTags")


def _stored(detail: Mapping[str, Any], manifest: str | None) -> StoredImage:
    children: tuple[str, ...] = ()
    subject = None
    if manifest:
        try:
            parsed = json.loads(manifest)
        except ValueError:
            parsed = {}
        children = tuple(m["digest"] for m in parsed.get("manifests", []) if "digest" in m)
        subject = (parsed.get("subject") or {}).get("digest")
    pushed = detail.get("imagePushedAt")
    if not isinstance(pushed, datetime):
        raise NotFoundError(f"ECR gave no push time for {detail.get('imageDigest')}")
    return StoredImage(detail["imageDigest"], tuple(detail.get("imageTags") or ()), pushed,
                       children, subject)


def definitions_in_use(ctx: Context, clusters: Iterable[str]) -> dict[str, str]:
    """Task-definition ARN -> where it is used, for every deployment and task set of every
    service in `clusters` (a CodeDeploy deployment's new revision is its task set)."""
    found: dict[str, str] = {}
    for cluster in clusters:
        for service in ctx.ecs.services(cluster):
            where = f"service {service.get('serviceName')} in {cluster}"
            # an INACTIVE deployment was replaced and drained: it runs nothing any more
            users = [(d.get("taskDefinition", ""), f"deployment {d.get('id', '?')} "
                      f"({d.get('status', '?')})") for d in service.get("deployments", [])
                     if d.get("status") != "INACTIVE"]
            users += [(t.get("taskDefinition", ""), f"task set {t.get('id', '?')} "
                       f"({t.get('status', '?')})") for t in service.get("taskSets", [])]
            for arn, how in users:
                if arn and arn not in found:
                    found[arn] = f"{where}, {how}"
    return found


def images_in_use(ctx: Context, clusters: Iterable[str], target: Target,
                  tags: Mapping[str, str]) -> dict[str, str]:
    """digest -> where it runs, for every image of `target`'s repository that a service's
    deployment or task set in `clusters` names (by digest, or by a tag of the repository)."""
    found: dict[str, str] = {}
    for arn, where in definitions_in_use(ctx, clusters).items():
        for container in ctx.ecs.task_definition(arn).get("containerDefinitions", []):
            digest = _digest_of(str(container.get("image", "")), target, tags)
            if digest and digest not in found:
                found[digest] = f"{where}, {arn.rsplit('/', 1)[-1]}"
    return found


def _digest_of(image: str, target: Target, tags: Mapping[str, str]) -> str | None:
    reference = parse_image_reference(image, registry=target.registry,
                                      repository=target.repository)
    if reference.repository != target.repository or reference.registry != target.registry:
        return None
    return reference.digest or tags.get(reference.tag or "latest")


def run_cleanup(plan: CleanupPlan, ctx: Context, *, dry_run: bool) -> CleanupResult:
    """The plan's deletes, unless `dry_run`; each batch's failures reported, not raised."""
    result = CleanupResult(plan, dry_run)
    if dry_run:
        return result
    digests = [d.image.digest for d in plan.retention.deleted]
    for response in ctx.ecr.delete_images(plan.target.repository, digests):
        result.calls += 1
        result.deleted += [i["imageDigest"] for i in response.get("imageIds", [])
                           if i.get("imageDigest")]
        result.failures += [{"digest": str(f.get("imageId", {}).get("imageDigest", "?")),
                             "code": str(f.get("failureCode", "")),
                             "reason": str(f.get("failureReason", ""))}
                            for f in response.get("failures", [])]
    result.deleted = list(dict.fromkeys(result.deleted))
    return result
