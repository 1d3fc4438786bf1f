"""The release rules of `shipyard push`: promotion, floating tags, git tags, collisions.

Pure decisions over what the registry and git were found to hold; nothing here reads either.

- **Build once, deploy many**: a commit has one image. When its `sha-<short>` tag already
  names an image (built on develop, say), a new version of that commit is a promotion: the
  version's tags are added to that digest, nothing is built.
- **Floating tags** (`X.Y`, `X`, `latest`) follow the newest release and never go back: one
  that names an image carrying a higher stable version tag stays where it is.
- **A release is tagged in git** (`v<version>`) once its image is pushed, so the next commit
  computes the next version. Prereleases are not tagged; a tag on another commit is a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import semver

from shipyard.domain.versioning import is_stable, parse_semver

COMMIT_TAG_PREFIX = "sha-"


def commit_tag(short_sha: str) -> str:
    """The tag naming a commit's image (`sha-3f2a9c1`)."""
    return f"{COMMIT_TAG_PREFIX}{short_sha}"


def promotion_source(commit_image: str | None, candidate: str | None) -> str | None:
    """The digest to promote, or None to push `candidate` (None: not built yet).

    `commit_image` is the digest the commit's `sha-` tag names now. An image of this commit
    that exists is the image of every version of it, unless it is the one about to be pushed.

    >>> promotion_source(None, None) is None
    True
    >>> promotion_source("sha256:a", "sha256:a") is None
    True
    >>> promotion_source("sha256:a", None)
    'sha256:a'
    """
    if commit_image is None or commit_image == candidate:
        return None
    return commit_image


def highest_stable(tags: Iterable[str]) -> semver.Version | None:
    """The highest stable `X.Y.Z` among an image's tags (floating and commit tags are not).

    >>> str(highest_stable(["latest", "1.2", "1.2.0", "1.10.0", "2.0.0-rc.1", "sha-abc"]))
    '1.10.0'
    """
    found = [v for tag in tags
             if tag.count(".") == 2 and (v := parse_semver(tag)) is not None
             and is_stable(v) and not tag.startswith(("v", "V"))]
    return max(found, default=None)


def floating_tag_hold(tag: str, version: semver.Version,
                      holder_tags: Iterable[str]) -> str | None:
    """Why floating `tag` must stay on the image it names (whose tags are `holder_tags`)
    rather than move to `version`; None when it may move.

    >>> floating_tag_hold("latest", semver.Version.parse("0.9.0"), ["latest", "1.1.0"])
    'latest stays on 1.1.0: it never moves back to a lower version (0.9.0)'
    >>> floating_tag_hold("latest", semver.Version.parse("1.2.0"), ["latest", "1.1.0"]) is None
    True
    """
    current = highest_stable(holder_tags)
    if current is None or current <= version:
        return None
    return f"{tag} stays on {current}: it never moves back to a lower version ({version})"


GitTagAction = Literal["create", "exists", "prerelease"]


@dataclass(frozen=True)
class GitTagDecision:
    """What `push --git-tag` does with `v<version>`: create it, find it at HEAD, or skip it."""

    name: str
    action: GitTagAction

    @property
    def note(self) -> str:
        if self.action == "exists":
            return f"git tag {self.name} already names this commit"
        if self.action == "prerelease":
            return (f"git tag {self.name} not created: a prerelease is not a release (only "
                    "stable versions are tagged)")
        return f"git tag {self.name} created at this commit"


class GitTagTaken(Exception):
    """`v<version>` names another commit: that version was released from other code."""

    def __init__(self, name: str, commit: str) -> None:
        super().__init__(name, commit)
        self.name, self.commit = name, commit


def decide_git_tag(name: str, version: semver.Version, head: str,
                   tagged_commit: str | None) -> GitTagDecision:
    """Decide `--git-tag`; `tagged_commit` is the commit `name` names now (None: no tag).

    Raises GitTagTaken when the tag names another commit: checked before any write.
    """
    if tagged_commit is not None and tagged_commit != head:
        raise GitTagTaken(name, tagged_commit)
    if tagged_commit == head:
        return GitTagDecision(name, "exists")
    if not is_stable(version):
        return GitTagDecision(name, "prerelease")
    return GitTagDecision(name, "create")


def collision_message(repository: str, tag: str, digest: str, version: semver.Version,
                      git_tag: str) -> str:
    """A version tag on another image: what happened and the two ways on."""
    return (f"image tag {repository}:{tag} already points at {digest[:19]}…, another image; "
            f"versions are never overwritten. {version} is already pushed: make a new commit "
            f"(once git tag {git_tag} names the released commit, as `push --git-tag` leaves it, "
            "the next commit computes the next version) or pass --version with a version not "
            "yet pushed")


def moving_holders(moving: Iterable[str], current: Mapping[str, str | None]
                   ) -> dict[str, str]:
    """The floating tags that name an image now: tag → digest."""
    return {tag: digest for tag in moving if (digest := current.get(tag)) is not None}
