"""Tag plans as tables: stable, prerelease, moving tags and labels."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import semver

from shipyard.config import LabelSettings, TagSettings
from shipyard.domain.tagplan import TAG_PATTERN, CommitFacts, plan_tags
from shipyard.errors import UsageError

COMMIT = CommitFacts(sha="abcdef0123456789abcdef0123456789abcdef01",
                     time=datetime(2026, 3, 4, 23, 59, tzinfo=UTC),
                     source_url="https://github.com/acme/gamepulse")


def plan(version: str, *, latest=False, by_rule=False, major=False, latest_setting="auto",
         labels=None):
    return plan_tags(version=semver.Version.parse(version), commit=COMMIT, title="gamepulse",
                     tag_settings=TagSettings(latest=latest_setting, major=major),
                     label_settings=labels or LabelSettings(), latest_requested=latest,
                     latest_by_rule=by_rule)


@pytest.mark.parametrize(
    ("version", "kwargs", "tags"),
    [
        # stable, no moving tag asked for and no rule earning it
        ("1.2.3", {}, ["1.2.3", "1.2", "sha-abcdef0", "20260304-abcdef0"]),
        # auto latest earned by the branch rule or the release tag
        ("1.2.3", {"by_rule": True}, ["1.2.3", "1.2", "latest", "sha-abcdef0", "20260304-abcdef0"]),
        # --latest asked for
        ("1.2.3", {"latest": True}, ["1.2.3", "1.2", "latest", "sha-abcdef0", "20260304-abcdef0"]),
        # latest = false in config: the rule does not earn it
        ("1.2.3", {"by_rule": True, "latest_setting": False},
         ["1.2.3", "1.2", "sha-abcdef0", "20260304-abcdef0"]),
        # latest = true in config: always on stable versions
        ("1.2.3", {"latest_setting": True},
         ["1.2.3", "1.2", "latest", "sha-abcdef0", "20260304-abcdef0"]),
        # X only when configured
        ("1.2.3", {"major": True}, ["1.2.3", "1.2", "1", "sha-abcdef0", "20260304-abcdef0"]),
        # prerelease: never latest, X.Y or X, whatever is asked
        ("1.2.4-develop.7", {"latest": True, "by_rule": True, "major": True,
                             "latest_setting": True},
         ["1.2.4-develop.7", "sha-abcdef0", "20260304-abcdef0"]),
        # build metadata: '+' is not allowed in a tag
        ("1.2.4-rc.1+build.9", {}, ["1.2.4-rc.1-build.9", "sha-abcdef0", "20260304-abcdef0"]),
        ("1.2.3+meta", {}, ["1.2.3-meta", "1.2", "sha-abcdef0", "20260304-abcdef0"]),
    ],
)
def test_tags(version: str, kwargs: dict, tags: list[str]) -> None:
    result = plan(version, **kwargs)
    assert list(result.tags) == tags
    assert all(TAG_PATTERN.match(t) for t in result.tags)
    assert len(set(result.tags)) == len(result.tags)


def test_latest_on_prerelease_is_refused_with_a_warning() -> None:
    result = plan("2.0.0-rc.1", latest=True)
    assert "latest" not in result.tags
    assert result.warnings and "prerelease" in result.warnings[0]
    assert not plan("2.0.0-rc.1", by_rule=True).warnings  # nothing was asked, nothing to warn


def test_date_is_the_commit_day_in_utc() -> None:
    late_in_seoul = CommitFacts(sha=COMMIT.sha, time=datetime.fromisoformat(
        "2026-03-05T08:30:00+09:00"))
    result = plan_tags(version=semver.Version.parse("1.0.0"), commit=late_in_seoul, title="t",
                       tag_settings=TagSettings(), label_settings=LabelSettings())
    assert "20260304-abcdef0" in result.tags


def test_too_long_a_tag_is_refused() -> None:
    with pytest.raises(UsageError, match="not a valid image tag"):
        plan("1.0.0-" + "a" * 130)


def test_labels() -> None:
    result = plan("1.2.3", labels=LabelSettings(description="Telemetry", licenses="MIT"))
    assert result.labels == {
        "org.opencontainers.image.title": "gamepulse",
        "org.opencontainers.image.version": "1.2.3",
        "org.opencontainers.image.revision": COMMIT.sha,
        "org.opencontainers.image.created": "2026-03-04T23:59:00Z",
        "org.opencontainers.image.source": "https://github.com/acme/gamepulse",
        "org.opencontainers.image.description": "Telemetry",
        "org.opencontainers.image.licenses": "MIT",
    }
    configured = plan("1.2.3", labels=LabelSettings(source="https://example.com/x", url="https://u"))
    assert configured.labels["org.opencontainers.image.source"] == "https://example.com/x"
    assert configured.labels["org.opencontainers.image.url"] == "https://u"
    bare = plan_tags(version=semver.Version.parse("1.0.0"),
                     commit=CommitFacts(sha=COMMIT.sha, time=COMMIT.time), title="t",
                     tag_settings=TagSettings(), label_settings=LabelSettings())
    assert "org.opencontainers.image.source" not in bare.labels
