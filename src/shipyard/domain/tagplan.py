"""Which image tags and OCI labels a version becomes, in the spirit of docker/metadata-action.

Stable X.Y.Z: `X.Y.Z`, `X.Y`, (`X` when configured), (`latest` when it applies),
`sha-<7 hex>`, `<YYYYMMDD>-<7 hex>`. A prerelease gets only its own version tag and the two
commit tags: `latest`, `X.Y` and `X` never point at a prerelease.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import semver

from shipyard.domain.versioning import is_stable
from shipyard.errors import UsageError


class TagSettings(Protocol):
    """Which moving tags a plan adds: `latest` ("auto", True, False) and the major `X`."""

    @property
    def latest(self) -> str | bool: ...
    @property
    def major(self) -> bool: ...


class LabelSettings(Protocol):
    """Optional OCI labels; an empty `source` falls back to the commit's source URL."""

    @property
    def description(self) -> str: ...
    @property
    def licenses(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def source(self) -> str: ...

# The Docker/OCI tag grammar: no '+', at most 128 characters.
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
SHORT_SHA_LENGTH = 7
LATEST = "latest"


def version_tag(version: semver.Version) -> str:
    """The version as a tag: tags allow no `+`, so semver build metadata's `+` becomes `-`."""
    return str(version).replace("+", "-")


@dataclass(frozen=True)
class CommitFacts:
    """The commit an image is built from."""

    sha: str
    time: datetime
    source_url: str = ""

    @property
    def short_sha(self) -> str:
        return self.sha[:SHORT_SHA_LENGTH]


@dataclass(frozen=True)
class TagPlan:
    """The tags to push, the labels to set, and warnings about flags that were refused."""

    tags: tuple[str, ...]
    labels: dict[str, str]
    warnings: tuple[str, ...] = field(default=())
    moving: tuple[str, ...] = field(default=())  # tags meant to move: latest, X.Y, X

    def is_moving(self, tag: str) -> bool:
        """Moving tags follow the newest release; every other tag names one image forever."""
        return tag in self.moving


def plan_tags(
    *,
    version: semver.Version,
    commit: CommitFacts,
    title: str,
    tag_settings: TagSettings,
    label_settings: LabelSettings,
    latest_requested: bool = False,
    latest_by_rule: bool = False,
) -> TagPlan:
    """Build the tag plan for `version` built from `commit`.

    `latest_by_rule` says whether the commit is a release or on a branch whose rule bumps
    minor or major; with `latest = "auto"` that decides `latest`.
    """
    warnings: list[str] = []
    tags = [version_tag(version)]
    moving: list[str] = []
    if is_stable(version):
        moving.append(f"{version.major}.{version.minor}")
        if tag_settings.major:
            moving.append(str(version.major))
        if _wants_latest(tag_settings.latest, latest_requested, latest_by_rule):
            moving.append(LATEST)
        tags += moving
    elif latest_requested:
        warnings.append(
            f"--latest ignored: {version} is a prerelease, and 'latest' never points at one"
        )
    date = commit.time.astimezone(UTC).strftime("%Y%m%d")
    tags += [f"sha-{commit.short_sha}", f"{date}-{commit.short_sha}"]
    unique = tuple(dict.fromkeys(tags))
    for tag in unique:
        if not TAG_PATTERN.match(tag):
            raise UsageError(
                f"tag '{tag}' is not a valid image tag (letters, digits, '_', '.', '-', at most "
                "128 characters); shorten the version's prerelease or build part"
            )
    labels = _labels(version, commit, title, label_settings)
    return TagPlan(unique, labels, tuple(warnings), tuple(moving))


def _wants_latest(setting: str | bool, requested: bool, by_rule: bool) -> bool:
    if requested:
        return True
    if setting == "auto":
        return by_rule
    return bool(setting)


def _labels(
    version: semver.Version, commit: CommitFacts, title: str, settings: LabelSettings
) -> dict[str, str]:
    labels = {
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.version": version_tag(version),
        "org.opencontainers.image.revision": commit.sha,
        # The commit time, not the clock, so the same commit always labels the same way.
        "org.opencontainers.image.created": commit.time.astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "org.opencontainers.image.source": settings.source or commit.source_url,
    }
    optional = {"description": settings.description, "licenses": settings.licenses,
                "url": settings.url}
    for key, value in optional.items():
        if value:
            labels[f"org.opencontainers.image.{key}"] = value
    if not labels["org.opencontainers.image.source"]:
        del labels["org.opencontainers.image.source"]
    return labels
