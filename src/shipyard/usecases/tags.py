"""`shipyard tags`: the image tags and OCI labels for a version of this commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipyard.adapters.git import Git
from shipyard.adapters.github import ActionsContext
from shipyard.config import Config
from shipyard.domain.tagplan import CommitFacts, TagPlan, plan_tags
from shipyard.domain.versioning import choose_rule
from shipyard.usecases.version import VersionOptions, VersionResult, compute_version

LATEST_BUMPS = ("minor", "major")


@dataclass(frozen=True)
class TagsOptions:
    """Flags of `shipyard tags`: the version flags plus `--latest`."""

    manual: str | None = None
    bump: str | None = None
    latest: bool = False


@dataclass(frozen=True)
class TagsResult:
    """The tag plan and the version it was made for."""

    plan: TagPlan
    version: VersionResult

    def to_json(self) -> dict[str, Any]:
        return {"tags": list(self.plan.tags), "labels": dict(self.plan.labels)}


def plan_image_tags(
    options: TagsOptions, config: Config, git: Git, actions: ActionsContext | None
) -> TagsResult:
    """Decide the version (as `shipyard version` would) and turn it into tags and labels."""
    # Tags name a commit, so unlike `version --version` this always needs the repository.
    git.require_repository()
    version = compute_version(
        VersionOptions(manual=options.manual, bump=options.bump), config, git, actions
    )
    source = version.source
    assert source is not None  # require_repository() above guarantees a checkout
    plan = plan_tags(
        version=version.decision.version,
        commit=CommitFacts(sha=source.sha, time=source.commit_time, source_url=source.source_url),
        title=config.service.name,
        tag_settings=config.tags,
        label_settings=config.labels,
        latest_requested=options.latest,
        latest_by_rule=_latest_by_rule(version, config),
    )
    return TagsResult(plan=plan, version=version)


def _latest_by_rule(version: VersionResult, config: Config) -> bool:
    """A release tag, or a branch whose rule bumps minor or major, earns `latest` on auto."""
    source = version.source
    if source is None:
        return False
    if source.release_tag is not None:
        return True
    choice = choose_rule(source.facts, config.version)
    return choice.is_branch_rule and choice.rule.bump in LATEST_BUMPS
