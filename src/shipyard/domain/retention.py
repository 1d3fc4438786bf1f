"""Which images of a repository `shipyard cleanup` deletes, and why each other one stays.

Safe by construction: the policy's rules only ever *allow* a delete; a set of protections,
applied last and to a fixed point, takes images back from it:

- an image a service or task set runs or is deploying (`in_use`);
- every child of a kept index (its platform manifests), whatever its own tags or age;
- every artifact attached to a kept image: a manifest whose `subject` is the kept digest (an
  OCI 1.1 referrer: a signature, an SBOM) and an image tagged `sha256-<hex>.<suffix>` for it
  (cosign's tag scheme, used where a registry has no referrers API);
- and, since a kept referrer may itself be an index, its children too.

The rules, each deciding only images it names:

- releases (a stable `X.Y.Z` tag): the newest `keep_releases` by version are kept, the older
  ones may go;
- prereleases (an `X.Y.Z-<branch>.<N>` tag): those younger than `prerelease_days` and among the
  newest `prereleases_per_branch` of their branch are kept; the others may go;
- `keep_tags` (glob patterns): an image with a tag that matches one is kept;
- untagged images older than `untagged_hours` may go (younger ones are kept: a push may be
  under way).

An image no rule speaks for (tagged, but with no version tag: `sha-...` alone, say) is kept.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import semver

# cosign's fallback tags: sha256-<64 hex>.sig, .att, .sbom (and any other suffix)
_ATTACHED_TAG = re.compile(r"^sha256-([0-9a-f]{64})\.[A-Za-z0-9._-]+$")
_PRERELEASE_BRANCH = re.compile(r"^(?P<branch>.+?)(?:\.(?P<n>\d+))?$")


@dataclass(frozen=True)
class RetentionPolicy:
    keep_releases: int = 10
    prerelease_days: int = 14
    prereleases_per_branch: int = 5
    keep_tags: tuple[str, ...] = ("latest",)
    untagged_hours: int = 24


@dataclass(frozen=True)
class StoredImage:
    """One image of the repository, as DescribeImages (and, for indexes and artifacts,
    their manifests) tell it."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    children: tuple[str, ...] = ()  # an index's manifests
    subject: str | None = None  # the image an artifact (a referrer) is attached to


@dataclass(frozen=True)
class Decision:
    image: StoredImage
    delete: bool
    reason: str  # the rule or protection that decided


@dataclass
class RetentionPlan:
    decisions: list[Decision] = field(default_factory=list)

    @property
    def deleted(self) -> list[Decision]:
        return [d for d in self.decisions if d.delete]

    @property
    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if not d.delete]


def attached_to(image: StoredImage) -> str | None:
    """The digest an artifact is attached to: its manifest's subject, else the digest its
    cosign tag (`sha256-<hex>.sig`) names; None for an image of its own."""
    if image.subject:
        return image.subject
    for tag in image.tags:
        match = _ATTACHED_TAG.match(tag)
        if match:
            return f"sha256:{match.group(1)}"
    return None


def _version(tags: Iterable[str]) -> semver.Version | None:
    """The highest semantic version among an image's tags (build metadata is `-` in a tag)."""
    found = []
    for tag in tags:
        if tag.count(".") < 2 or not tag[:1].isdigit():
            continue
        try:
            found.append(semver.Version.parse(tag))
        except ValueError:
            continue
    return max(found) if found else None


def _branch(version: semver.Version) -> str:
    match = _PRERELEASE_BRANCH.match(str(version.prerelease))
    return match.group("branch") if match else str(version.prerelease)


def plan_retention(images: Iterable[StoredImage], policy: RetentionPolicy, *,
                   in_use: Mapping[str, str], now: datetime) -> RetentionPlan:
    """Every image's decision, newest push first. `in_use`: digest -> where it runs (a
    service, a task set, a deployment), which keeps it whatever the rules say."""
    stored = {image.digest: image for image in images}
    verdict: dict[str, tuple[bool, str]] = {}  # digest -> (may delete, why)
    releases: list[tuple[semver.Version, StoredImage]] = []
    branches: dict[str, list[tuple[semver.Version, StoredImage]]] = defaultdict(list)
    for image in stored.values():
        kept_tag = next((t for t in image.tags for pattern in policy.keep_tags
                         if fnmatch.fnmatchcase(t, pattern)), None)
        version = _version(image.tags)
        subject = attached_to(image)
        if subject is not None:  # follows its image: kept (below) only when that is
            verdict[image.digest] = (True, f"attached to {subject[:19]}, which is not kept")
        elif kept_tag is not None:
            verdict[image.digest] = (False, f"keep_tags: tag {kept_tag}")
        elif version is not None and not version.prerelease:
            releases.append((version, image))
        elif version is not None:
            branches[_branch(version)].append((version, image))
        elif not image.tags:
            age = now - image.pushed_at
            old = age > timedelta(hours=policy.untagged_hours)
            verdict[image.digest] = (old, f"untagged, pushed {_age(age)} ago" + (
                f" (over {policy.untagged_hours}h)" if old else
                f" (within {policy.untagged_hours}h)"))
        else:
            verdict[image.digest] = (False, "no rule deletes it (no version tag)")
    releases.sort(key=lambda pair: pair[0], reverse=True)
    for rank, (version, image) in enumerate(releases, 1):
        keep = rank <= policy.keep_releases
        verdict[image.digest] = (not keep, f"release {version}: "
                                 + ("" if keep else "not ") + "among the newest "
                                 f"{policy.keep_releases}")
    for branch, members in branches.items():
        members.sort(key=lambda pair: (pair[1].pushed_at, pair[0]), reverse=True)
        for rank, (version, image) in enumerate(members, 1):
            age = now - image.pushed_at
            if age > timedelta(days=policy.prerelease_days):
                verdict[image.digest] = (True, f"prerelease {version} of {branch}: pushed "
                                         f"{_age(age)} ago (over {policy.prerelease_days}d)")
            elif rank > policy.prereleases_per_branch:
                verdict[image.digest] = (True, f"prerelease {version} of {branch}: "
                                         f"#{rank}, over {policy.prereleases_per_branch} "
                                         "per branch")
            else:
                verdict[image.digest] = (False, f"prerelease {version} of {branch}: recent")
    _protect(stored, verdict, in_use)
    ordered = sorted(stored.values(), key=lambda i: (i.pushed_at, i.digest), reverse=True)
    return RetentionPlan([Decision(i, *verdict[i.digest]) for i in ordered])


def _protect(stored: Mapping[str, StoredImage], verdict: dict[str, tuple[bool, str]],
             in_use: Mapping[str, str]) -> None:
    """Take back from the deletes whatever a kept image needs, to a fixed point."""
    attached: dict[str, list[str]] = defaultdict(list)  # subject digest -> its artifacts
    for image in stored.values():
        subject = attached_to(image)
        if subject is not None:
            attached[subject].append(image.digest)
    for digest, where in in_use.items():
        if digest in verdict:
            verdict[digest] = (False, f"in use: {where}")
    # What a kept image needs says why it stays, even when a rule alone would keep it (a
    # young untagged child): the rule could let it go later, the need cannot.
    pending = [d for d, (delete, _) in verdict.items() if not delete]
    seen = set(pending)
    while pending:
        digest = pending.pop()
        needed = [(c, f"child of kept index {digest[:19]}") for c in stored[digest].children]
        needed += [(a, f"attached to kept image {digest[:19]}") for a in attached.get(digest, ())]
        for other, why in needed:
            if other not in verdict or verdict[other][1].startswith("in use"):
                continue
            if verdict[other][0] or not verdict[other][1].startswith(("child of", "attached")):
                verdict[other] = (False, why)
            if other not in seen:
                seen.add(other)
                pending.append(other)


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.0f}d"


@dataclass(frozen=True)
class RevisionDecision:
    arn: str
    status: str  # ACTIVE or INACTIVE
    delete: bool
    reason: str


def plan_revisions(revisions: Iterable[tuple[str, str]], keep: int, *,
                   in_use: Mapping[str, str]) -> list[RevisionDecision]:
    """Task-definition revisions (arn, status) of one family: the newest `keep` by revision
    number stay, and any revision a service or deployment uses; the others go (an ACTIVE one
    deregistered first). Newest first."""
    def number(arn: str) -> int:
        return int(arn.rsplit(":", 1)[-1])

    decisions = []
    for rank, (arn, status) in enumerate(sorted(revisions, key=lambda r: number(r[0]),
                                                reverse=True), 1):
        if arn in in_use:
            decisions.append(RevisionDecision(arn, status, False, f"in use: {in_use[arn]}"))
        elif rank <= keep:
            decisions.append(RevisionDecision(arn, status, False,
                                              f"among the newest {keep}"))
        else:
            decisions.append(RevisionDecision(arn, status, True,
                                              f"#{rank}, beyond the newest {keep}"))
    return decisions
