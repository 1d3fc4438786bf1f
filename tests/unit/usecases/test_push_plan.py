"""Which tags a push writes, skips or refuses, given what they point at now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import semver

from shipyard.adapters.ecr import RepositorySettings
from shipyard.adapters.registry import is_loopback_host
from shipyard.config import LabelSettings, TagSettings
from shipyard.domain.tagplan import CommitFacts, plan_tags
from shipyard.domain.versioning import VersionDecision
from shipyard.errors import ConflictError
from shipyard.usecases.push import PushResult, _decide_tags, mount_source
from shipyard.usecases.tags import TagsResult
from shipyard.usecases.target import Target
from shipyard.usecases.version import VersionResult

OURS, OTHER = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def result(mutability: str = "IMMUTABLE_WITH_EXCLUSION") -> PushResult:
    version = semver.Version.parse("1.2.0")
    plan = plan_tags(version=version,
                     commit=CommitFacts(sha="c" * 40, time=datetime(2026, 1, 2, tzinfo=UTC)),
                     title="t", tag_settings=TagSettings(), label_settings=LabelSettings(),
                     latest_requested=True)
    decided = VersionResult(VersionDecision(version, None, "none", "manual", "given"),
                            source=None, tag_name="v1.2.0")
    return PushResult(tags=TagsResult(plan=plan, version=decided),
                      target=Target("r", "123456789012", "127.0.0.1:5000", "svc"),
                      repository=RepositorySettings(
                          "svc", tag_mutability=mutability,
                          # the old default excluded only latest; the new one fixes versions
                          mutability_exclusions=("latest",) if mutability.startswith("IMM")
                          else ("*.*.*", "*-*")),
                      repository_created=False, platforms=("linux/amd64",), dry_run=False)


def test_fresh_repository_sets_unique_tags_before_moving_ones() -> None:
    r = result()
    _decide_tags(r, OURS, {})
    assert r.tags_to_set == ("1.2.0", "sha-ccccccc", "20260102-ccccccc", "1.2", "latest")


def test_tags_already_on_our_image_are_left_alone() -> None:
    r = result()
    _decide_tags(r, OURS, dict.fromkeys(["1.2.0", "1.2", "latest"], OURS))
    assert r.tags_unchanged == ("1.2.0", "1.2", "latest")
    assert r.tags_to_set == ("sha-ccccccc", "20260102-ccccccc")


@pytest.mark.parametrize("mutability", ["MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"])
def test_a_version_tag_on_another_image_is_a_conflict_whatever_the_repository(mutability
                                                                               ) -> None:
    with pytest.raises(ConflictError, match=r"svc:1\.2\.0 already points at"):
        _decide_tags(result(mutability), OURS, {"1.2.0": OTHER})


@pytest.mark.parametrize(
    ("mutability", "moved", "skipped"),
    [
        ("MUTABLE", ["1.2", "latest"], []),  # moving tags move
        ("MUTABLE_WITH_EXCLUSION", ["1.2", "latest"], []),  # the default: only versions fixed
        ("IMMUTABLE_WITH_EXCLUSION", ["latest"], ["1.2"]),  # latest is excluded, 1.2 is not
        ("IMMUTABLE", [], ["1.2", "latest"]),  # nothing may move: skipped with a warning
    ],
)
def test_moving_tags_follow_the_repository(mutability, moved, skipped) -> None:
    r = result(mutability)
    _decide_tags(r, OURS, {"1.2": OTHER, "latest": OTHER})
    assert [t for t in r.tags_to_set if t in ("1.2", "latest")] == moved
    assert [w.split()[2] for w in r.warnings] == skipped


def test_a_held_floating_tag_is_neither_set_nor_a_conflict() -> None:
    r = result("MUTABLE_WITH_EXCLUSION")
    r.held["latest"] = "latest stays on 2.0.0: it never moves back to a lower version (1.2.0)"
    _decide_tags(r, OURS, {"1.2": OTHER, "latest": OTHER})
    assert "latest" not in r.tags_to_set and "1.2" in r.tags_to_set


def test_a_collision_says_what_to_do() -> None:
    with pytest.raises(ConflictError) as raised:
        _decide_tags(result(), OURS, {"1.2.0": OTHER})
    assert "make a new commit" in raised.value.message
    assert "git tag v1.2.0" in raised.value.message and "--version" in raised.value.message


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1:5000", True), ("localhost:5000", True), ("[::1]:5000", True),
     ("127.1.2.3", True), ("10.0.0.1:5000", False),
     ("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com", False)],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(("args", "source"), [
    # the base image in the registry being pushed to: mount its layers from there
    ({"BASE_IMAGE": "127.0.0.1:5000/gamepulse-base:bookworm", "VERSION": "1.2.0"},
     "gamepulse-base"),
    ({"BASE_IMAGE": f"127.0.0.1:5000/team/base@{OURS}"}, "team/base"),
    ({"BASE_IMAGE": "docker.io/library/python:3.12"}, None),   # another registry
    ({"BASE_IMAGE": "python:3.12"}, None),                     # a short name: docker.io
    ({"SELF": "127.0.0.1:5000/svc:1.0.0"}, None),              # the target itself
    ({}, None),
])
def test_mount_source_is_the_base_image_repository(args, source) -> None:
    target = Target("r", "123456789012", "127.0.0.1:5000", "svc")
    assert mount_source(args, target) == source
