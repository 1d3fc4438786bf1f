"""The release rules: promotion, floating tags that never go back, `--git-tag`, and the
ECR exclusion filters that keep version tags fixed while floating tags move."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
import semver

from shipyard.config import RepositoryDefaults
from shipyard.domain.release import (
    GitTagTaken,
    collision_message,
    decide_git_tag,
    floating_tag_hold,
    highest_stable,
    moving_holders,
    promotion_source,
)

V = semver.Version.parse
HEAD, OTHER = "a" * 40, "b" * 40


@pytest.mark.parametrize(("commit_image", "candidate", "promoted"), [
    (None, None, None),                # nothing of this commit yet: build
    (None, "sha256:new", None),        # nothing yet: push the layout
    ("sha256:old", None, "sha256:old"),  # built before: promote, do not build
    ("sha256:old", "sha256:new", "sha256:old"),  # another layout of it: still the old image
    ("sha256:old", "sha256:old", None),  # the same image: an ordinary (re)push
])
def test_promotion_source(commit_image, candidate, promoted) -> None:
    assert promotion_source(commit_image, candidate) == promoted


def test_highest_stable_reads_only_stable_version_tags() -> None:
    assert highest_stable(["latest", "2", "2.1", "sha-abcdef0", "20260101-abcdef0"]) is None
    assert highest_stable(["1.9.0", "1.10.0", "2.0.0-rc.1", "1.5.0-b7"]) == V("1.10.0")


@pytest.mark.parametrize(("new", "holder", "held"), [
    ("0.9.0", ["latest", "1.1.0", "1.1"], True),     # --version 0.9.0 on main
    ("1.1.0", ["1.1", "1.1.1"], True),               # an older patch: 1.1 stays on 1.1.1
    ("1.2.0", ["latest", "1.1.0"], False),           # forward: moves
    ("1.1.0", ["latest", "1.1.0"], False),           # the same version: not backwards
    ("1.0.0", ["latest", "1.1.1-develop.3"], False),  # no release on it: nothing to keep
])
def test_floating_tags_never_move_back(new, holder, held) -> None:
    why = floating_tag_hold("latest", V(new), holder)
    assert (why is not None) is held
    if held:
        assert f"never moves back to a lower version ({new})" in why


def test_moving_holders_are_the_floating_tags_that_name_an_image() -> None:
    assert moving_holders(["1.2", "latest"], {"1.2": "sha256:x", "latest": None}) == {
        "1.2": "sha256:x"}


def test_git_tag_decisions() -> None:
    assert decide_git_tag("v1.2.0", V("1.2.0"), HEAD, None).action == "create"
    assert decide_git_tag("v1.2.0", V("1.2.0"), HEAD, HEAD).action == "exists"
    skipped = decide_git_tag("v1.2.1-develop.3", V("1.2.1-develop.3"), HEAD, None)
    assert skipped.action == "prerelease" and "not created" in skipped.note
    with pytest.raises(GitTagTaken) as taken:
        decide_git_tag("v1.2.0", V("1.2.0"), HEAD, OTHER)
    assert taken.value.commit == OTHER


def test_the_collision_message_names_both_ways_on() -> None:
    text = collision_message("gamepulse", "1.1.0", "sha256:" + "c" * 64, V("1.1.0"), "v1.1.0")
    assert "gamepulse:1.1.0 already points at sha256:cccccccccccc…" in text
    assert "make a new commit" in text and "--version" in text and "git tag v1.1.0" in text


# What ECR does with the default filters, as the sandbox models it (fnmatch with `*` only,
# the one wildcard ECR's filter pattern allows).
VERSION_TAGS = ["1.1.0", "10.20.30", "1.1.1-develop.3", "1.2.3-pr-42.1", "1.5.0-b7",
                "sha-3f2a9c1", "20260304-3f2a9c1"]
FLOATING_TAGS = ["1.1", "10.20", "1", "latest"]


@pytest.mark.parametrize("tag", VERSION_TAGS + FLOATING_TAGS)
def test_default_filters_fix_version_tags_and_free_floating_ones(tag: str) -> None:
    defaults = RepositoryDefaults()
    assert defaults.tag_mutability == "MUTABLE_WITH_EXCLUSION"
    immutable = any(fnmatchcase(tag, f) for f in defaults.mutability_exclusions)
    assert immutable is (tag in VERSION_TAGS)


@pytest.mark.parametrize("filters", [["a?b"], ["[0-9]*"], ["x"] * 6, [""]])
def test_filters_ecr_would_refuse_are_a_config_error(filters) -> None:
    with pytest.raises(ValueError, match="ECR"):
        RepositoryDefaults(mutability_exclusions=tuple(filters))
