"""The part of a [cleanup] policy that an ECR lifecycle policy can carry without endangering
anything, and why the rest must stay in `shipyard cleanup`.

ECR evaluates lifecycle rules on its side, knowing nothing of what ECS runs, of which
untagged manifests an index needs, or of which artifacts are attached to which image. So a
rule is safe only when every image it can select is one nobody can need:

- no rule selects untagged images (platform manifests of multi-arch indexes and OCI
  referrers such as signatures and SBOMs are untagged), nor any image (`tagStatus: any`);
- no rule selects releases, or prereleases of a branch an environment may run: ECR cannot
  see that staging runs a two-week-old develop build;
- so the only rules are for prereleases of the branches [cleanup] `never_deployed` names
  (pull requests, say, whose builds no environment runs): expire them `prerelease_days`
  after their push. Their tag pattern is checked not to select a release, a signature tag
  (`sha256-<hex>.sig`) or another branch's prerelease shape by accident.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.domain.retention import RetentionPolicy, StoredImage

# Tags a never-deployed branch's pattern must not select: releases, floating tags, cosign's.
_MUST_NOT_MATCH = ("1.2.3", "1.2", "1", "latest", "sha-0123abc", "20260101-0123abc",
                   "sha256-" + "ab" * 32 + ".sig", "sha256-" + "ab" * 32 + ".att",
                   "sha256-" + "ab" * 32 + ".sbom", "1.2.4-develop.3", "1.2.4-main.1")


@dataclass(frozen=True)
class LifecyclePlan:
    rules: tuple[dict[str, Any], ...]
    stays_in_cleanup: tuple[tuple[str, str], ...]  # (rule, why ECR cannot carry it)

    def document(self) -> str:
        return json.dumps({"rules": list(self.rules)}, indent=2)


def pattern_problem(branch: str) -> str | None:
    """Why a never_deployed entry cannot become a tag pattern; None when it can."""
    if not branch or any(c in branch for c in "/ \t\"'"):
        return f"{branch!r} is not a branch slug pattern (lowercase, '-', '*')"
    pattern = prerelease_pattern(branch)
    selected = [tag for tag in _MUST_NOT_MATCH if fnmatch.fnmatchcase(tag, pattern)]
    if selected:
        return f"{branch!r} would also select tags such as {selected[0]!r}"
    return None


def prerelease_pattern(branch: str) -> str:
    """The tag pattern of a branch's prereleases (`1.4.3-pr-42.3` for `pr-*`)."""
    return f"*-{branch}.*"


def lifecycle_plan(policy: RetentionPolicy, never_deployed: Sequence[str]) -> LifecyclePlan:
    rules = []
    for priority, branch in enumerate(never_deployed, 1):
        rules.append({
            "rulePriority": priority,
            "description": f"prereleases of {branch} (never deployed), "
                           f"{policy.prerelease_days} days after their push",
            "selection": {"tagStatus": "tagged",
                          "tagPatternList": [prerelease_pattern(branch)],
                          "countType": "sinceImagePushed", "countUnit": "days",
                          "countNumber": max(1, policy.prerelease_days)},
            "action": {"type": "expire"}})
    stays = (
        (f"untagged images after {policy.untagged_hours}h",
         "an untagged rule also expires the platform images of kept multi-arch indexes and "
         "untagged OCI referrers (signatures, SBOMs)"),
        (f"the newest {policy.keep_releases} releases",
         "ECR does not know which images ECS runs: a count rule expires an old release a "
         "service still runs"),
        (f"prereleases after {policy.prerelease_days} days, at most "
         f"{policy.prereleases_per_branch} per branch",
         "ECR counts per rule, not per branch, and cannot see that an environment runs a "
         "prerelease (staging runs develop builds)" + (
             "; only the never_deployed branches' age rule is carried" if never_deployed
             else "")),
        ("attached artifacts follow their image",
         "ECR does not relate a signature or SBOM to the image it is attached to"),
    )
    return LifecyclePlan(tuple(rules), stays)


def selects(rule: dict[str, Any], image: StoredImage) -> bool:
    """Whether a rule's selection (tag status and patterns; not its count) takes `image`:
    ECR selects a tagged image when each pattern matches one of its tags."""
    selection = rule["selection"]
    status = selection.get("tagStatus")
    if status == "any":
        return True
    if status == "untagged":
        return not image.tags
    return bool(image.tags) and all(
        any(fnmatch.fnmatchcase(tag, pattern) for tag in image.tags)
        for pattern in selection.get("tagPatternList", ["*"]))
