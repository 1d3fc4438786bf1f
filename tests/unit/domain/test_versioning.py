"""The version rules as tables: parsing, slugs, rule choice and precedence."""

from __future__ import annotations

import pytest
import semver

from shipyard.config import BranchRule, VersionSettings
from shipyard.domain.versioning import (
    RefFacts,
    decide_version,
    highest_release_tag,
    parse_semver,
    slugify,
    version_from_tag,
)

V = semver.Version.parse


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        ("develop", "develop"),
        ("feature/Login_Page", "feature-login-page"),  # '/' and '_' become '-', lowercased
        ("--weird--name--", "weird-name"),  # no leading or trailing '-'
        ("a" * 50, "a" * 40),  # at most 40 characters
        ("x" * 39 + "/y", "x" * 39),  # cut at 40, then a trailing '-' is dropped
        ("007", "b007"),  # numeric identifiers may not have leading zeros in semver
        ("日本", "branch"),  # nothing left: a fixed, valid identifier
        ("Fix #12: crash", "fix-12-crash"),  # runs of other characters become one '-'
    ],
)
def test_slugify(branch: str, slug: str) -> None:
    assert slugify(branch) == slug
    # every slug must make a valid semver prerelease
    assert V(f"1.0.0-{slug}.3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3", "1.2.3"),
        ("v1.2.3", "1.2.3"),  # a leading v is accepted
        (" 1.2.3\n", "1.2.3"),
        ("1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"),
        ("1.2", None),  # incomplete
        ("01.2.3", None),  # leading zero
        ("latest", None),
        ("", None),
    ],
)
def test_parse_semver(text: str, expected: str | None) -> None:
    parsed = parse_semver(text)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize(
    ("tag", "prefix", "expected"),
    [
        ("v1.2.3", "v", "1.2.3"),
        ("1.2.3", "v", None),  # missing the configured prefix
        ("release-1.2.3", "release-", "1.2.3"),
        ("1.2.3", "", "1.2.3"),
        ("vv1.2.3", "v", None),  # prefix given twice is not a release tag
        ("v1.2", "v", None),
        ("v1.2.3-rc.1", "v", "1.2.3-rc.1"),
    ],
)
def test_version_from_tag(tag: str, prefix: str, expected: str | None) -> None:
    found = version_from_tag(tag, prefix)
    assert (str(found) if found else None) == expected


def test_highest_release_tag_prefers_stable_over_higher_prerelease() -> None:
    best = highest_release_tag(["v1.0.0", "v2.0.0-rc.1", "v1.5.0", "junk"], "v")
    assert best == ("v1.5.0", V("1.5.0"))
    assert highest_release_tag(["v2.0.0-rc.1", "v2.0.0-rc.2"], "v")[0] == "v2.0.0-rc.2"
    assert highest_release_tag(["junk"], "v") is None


SETTINGS = VersionSettings()
BASE = V("1.4.2")


def decide(facts: RefFacts, *, manual=None, bump=None, settings=SETTINGS, n=3):
    return decide_version(base=BASE, facts=facts, settings=settings,
                          commits_since_base=lambda: n, manual=manual, bump=bump)


@pytest.mark.parametrize(
    ("facts", "manual", "bump", "version", "source", "bump_part"),
    [
        # 1. manual wins over everything, even a release tag at HEAD
        (RefFacts("main", release_tags=("v9.0.0",)), "2.0.0", None, "2.0.0", "manual", "none"),
        # 2. a release tag at HEAD wins over --bump and branch rules
        (RefFacts("main", release_tags=("v1.5.0",)), None, "major", "1.5.0", "tag", "none"),
        # a prerelease tag at HEAD is still a release of that prerelease
        (RefFacts("develop", release_tags=("v1.5.0-rc.1",)), None, None, "1.5.0-rc.1", "tag",
         "none"),
        # 3. --bump wins over the branch rule and is stable even on a prerelease branch
        (RefFacts("develop"), None, "major", "2.0.0", "bump", "major"),
        (RefFacts("feature/x"), None, "patch", "1.4.3", "bump", "patch"),
        # 4. branch rules
        (RefFacts("main"), None, None, "1.5.0", "branch", "minor"),
        (RefFacts("master"), None, None, "1.5.0", "branch", "minor"),
        (RefFacts("develop"), None, None, "1.4.3-develop.3", "branch", "patch"),
        (RefFacts("feature/Login"), None, None, "1.4.3-feature-login.3", "branch", "patch"),
        (RefFacts("feature-x", pull_request=42), None, None, "1.4.3-pr-42.3", "branch", "patch"),
        (RefFacts(None), None, None, "1.4.3-detached.3", "branch", "patch"),
    ],
)
def test_precedence(facts, manual, bump, version, source, bump_part) -> None:
    decision = decide(facts, manual=V(manual) if manual else None, bump=bump)
    assert (str(decision.version), decision.source, decision.bump) == (version, source, bump_part)
    assert decision.previous == BASE


def test_commit_count_is_read_only_for_prerelease_rules() -> None:
    def fail() -> int:
        raise AssertionError("counted commits for a stable version")

    decision = decide_version(base=BASE, facts=RefFacts("main"), settings=SETTINGS,
                              commits_since_base=fail)
    assert str(decision.version) == "1.5.0"


def test_configured_branch_patterns_first_match_wins() -> None:
    settings = VersionSettings(branches=(
        BranchRule(pattern="release/*", bump="patch"),
        BranchRule(pattern="main", bump="major"),
        BranchRule(pattern="*", bump="minor", prerelease="wip-{slug}"),
    ))
    assert str(decide(RefFacts("release/1.4"), settings=settings).version) == "1.4.3"
    assert str(decide(RefFacts("main"), settings=settings).version) == "2.0.0"
    assert str(decide(RefFacts("topic/A"), settings=settings, n=0).version) == "1.5.0-wip-topic-a.0"


def test_prerelease_increases_with_commit_count() -> None:
    earlier = decide(RefFacts("develop"), n=2).version
    later = decide(RefFacts("develop"), n=10).version
    assert later > earlier  # numeric identifiers compare as numbers, so .10 > .2
