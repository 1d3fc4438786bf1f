"""Which release version a commit gets: semver parsing, branch rules and their precedence.

Pure functions over facts that the git and GitHub adapters gathered; nothing here runs git.
The precedence, first match wins:

1. a manual version (``--version``);
2. HEAD is a release (a release tag at HEAD, a tag ref or a release event in Actions);
3. an explicit ``--bump``;
4. the branch rule (``main`` bumps minor, ``develop`` patch with a prerelease, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal, Protocol

import semver

# Placeholders a prerelease template may use (the config checks templates against this list).
PRERELEASE_PLACEHOLDERS = ("slug", "pr")


Bump = Literal["major", "minor", "patch"]
BUMP_PARTS: tuple[Bump, ...] = ("major", "minor", "patch")


class VersionRule(Protocol):
    """How commits on some branches are versioned: the part to bump and the prerelease."""

    @property
    def bump(self) -> Bump: ...
    @property
    def prerelease(self) -> str: ...


class BranchRule(VersionRule, Protocol):
    """A version rule for branches matching a glob `pattern`."""

    @property
    def pattern(self) -> str: ...


class VersionPolicy(Protocol):
    """The rules the domain decides with; `shipyard.toml`'s [version] is one."""

    @property
    def tag_prefix(self) -> str: ...
    @property
    def branches(self) -> Sequence[BranchRule]: ...
    @property
    def pull_request(self) -> VersionRule: ...
    @property
    def other_branches(self) -> VersionRule: ...

Source = Literal["manual", "tag", "bump", "branch"]
BumpPart = Bump | Literal["none"]  # "none": the version was given or tagged, not bumped

SLUG_MAX_LENGTH = 40
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
DETACHED_BRANCH = "detached"


def parse_semver(text: str) -> semver.Version | None:
    """Parse `text` as a semantic version, a leading `v` accepted; None when it is not one.

    >>> str(parse_semver("v1.2.3-rc.1"))
    '1.2.3-rc.1'
    """
    candidate = text.strip()
    if candidate[:1] in ("v", "V"):
        candidate = candidate[1:]
    try:
        return semver.Version.parse(candidate)
    except (ValueError, TypeError):
        return None


def is_stable(version: semver.Version) -> bool:
    """A stable release has no prerelease part (build metadata does not count)."""
    return version.prerelease is None


def version_from_tag(tag: str, prefix: str) -> semver.Version | None:
    """The version a release tag names (`v1.2.3` with prefix `v`), or None if it names none."""
    if not tag.startswith(prefix):
        return None
    rest = tag[len(prefix):]
    # A prefix of "" must not let "v1.2.3" through twice-prefixed; parse only the remainder.
    if prefix and rest[:1] in ("v", "V"):
        return None
    try:
        return semver.Version.parse(rest)
    except (ValueError, TypeError):
        return None


def slugify(branch: str) -> str:
    """A branch name as a prerelease identifier: lowercase, `[a-z0-9-]`, at most 40 characters.

    >>> slugify("feature/Login_Page")
    'feature-login-page'
    """
    slug = _NOT_SLUG.sub("-", branch.lower()).strip("-")[:SLUG_MAX_LENGTH].strip("-")
    if not slug:
        return "branch"
    # Semver forbids leading zeros in numeric identifiers ("007"); a letter makes it alphanumeric.
    if slug.isdigit():
        slug = f"b{slug}"[:SLUG_MAX_LENGTH]
    return slug


@dataclass(frozen=True)
class RefFacts:
    """What the version rules need to know about the commit being versioned."""

    branch: str | None
    pull_request: int | None = None
    release_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleChoice:
    """The rule that applies to a commit and why."""

    rule: VersionRule
    reason: str
    is_branch_rule: bool


def choose_rule(facts: RefFacts, settings: VersionPolicy) -> RuleChoice:
    """Pick the version rule: pull request, first matching branch pattern, or the fallback."""
    if facts.pull_request is not None:
        return RuleChoice(settings.pull_request, f"pull request #{facts.pull_request}", False)
    branch = facts.branch or DETACHED_BRANCH
    for rule in settings.branches:
        if fnmatchcase(branch, rule.pattern):
            return RuleChoice(rule, f"branch '{branch}' (rule '{rule.pattern}')", True)
    return RuleChoice(settings.other_branches, f"branch '{branch}' (other branches)", True)


def render_prerelease(template: str, facts: RefFacts) -> str:
    """Fill a prerelease template's placeholders from the commit's facts."""
    values = {
        "slug": slugify(facts.branch or DETACHED_BRANCH),
        "pr": str(facts.pull_request) if facts.pull_request is not None else "0",
    }
    assert set(values) == set(PRERELEASE_PLACEHOLDERS)
    return template.format(**values)


def bump_version(base: semver.Version, part: Bump) -> semver.Version:
    """Bump one part of a stable version, resetting the parts below it."""
    if part == "major":
        return base.bump_major()
    if part == "minor":
        return base.bump_minor()
    return base.bump_patch()


def highest_release_tag(tags: Iterable[str], prefix: str) -> tuple[str, semver.Version] | None:
    """The release tag naming the highest version, stable tags before prereleases."""
    found = [(tag, v) for tag in tags if (v := version_from_tag(tag, prefix)) is not None]
    if not found:
        return None
    return max(found, key=lambda pair: (is_stable(pair[1]), pair[1]))


@dataclass(frozen=True)
class VersionDecision:
    """The outcome of `decide_version`: the version and how it was reached."""

    version: semver.Version
    previous: semver.Version | None
    bump: BumpPart
    source: Source
    reason: str

    @property
    def prerelease(self) -> bool:
        return not is_stable(self.version)


def decide_version(
    *,
    base: semver.Version | None,
    facts: RefFacts,
    settings: VersionPolicy,
    commits_since_base: Callable[[], int],
    manual: semver.Version | None = None,
    bump: Bump | None = None,
) -> VersionDecision:
    """Apply the precedence rules. `commits_since_base` is called only for prerelease rules.

    `base` may be None only with a manual version (outside git, or with no version file).
    """
    if manual is not None:
        return VersionDecision(manual, base, "none", "manual", "given with --version")
    release = highest_release_tag(facts.release_tags, settings.tag_prefix)
    if release is not None:
        tag, version = release
        return VersionDecision(version, base, "none", "tag", f"release tag {tag}")
    if base is None:
        raise ValueError("a base version is needed unless a manual version is given")
    if bump is not None:
        return VersionDecision(
            bump_version(base, bump), base, bump, "bump", f"{bump} bump given with --bump"
        )
    choice = choose_rule(facts, settings)
    version = bump_version(base, choice.rule.bump)
    if choice.rule.prerelease:
        identifier = render_prerelease(choice.rule.prerelease, facts)
        version = version.replace(prerelease=f"{identifier}.{commits_since_base()}")
    return VersionDecision(
        version, base, choice.rule.bump, "branch", f"{choice.rule.bump} bump for {choice.reason}"
    )
