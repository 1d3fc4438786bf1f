"""The retention plan: the rules allow deletes, the protections take back what a kept image
needs (in use, an index's children, attached signatures and SBOMs), to a fixed point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipyard.domain.retention import RetentionPolicy, StoredImage, plan_retention

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def image(n: int, *tags: str, hours: float = 1, children: tuple[int, ...] = (),
          subject: int | None = None) -> StoredImage:
    return StoredImage(digest(n), tags, NOW - timedelta(hours=hours),
                       tuple(digest(c) for c in children),
                       digest(subject) if subject is not None else None)


DEFAULT = RetentionPolicy()


def decide(images, policy=DEFAULT, in_use=None):
    plan = plan_retention(images, policy, in_use=in_use or {}, now=NOW)
    return {d.image.digest: (d.delete, d.reason) for d in plan.decisions}


def deleted(images, **kwargs) -> set[str]:
    return {d for d, (delete, _) in decide(images, **kwargs).items() if delete}


def test_the_newest_releases_stay_by_version_not_by_push_time() -> None:
    images = [image(1, "1.9.0", hours=1), image(2, "1.10.0", hours=50),
              image(3, "1.2.0", hours=2), image(4, "0.9.0", "0.9", hours=3)]
    policy = RetentionPolicy(keep_releases=2)
    assert deleted(images, policy=policy) == {digest(3), digest(4)}
    assert decide(images, policy)[digest(4)][1] == "release 0.9.0: not among the newest 2"


def test_prereleases_go_when_old_or_beyond_the_per_branch_count() -> None:
    images = [image(10 + n, f"1.0.1-develop.{n}", hours=n) for n in range(1, 5)]
    images += [image(20, "1.0.1-pr-42.3", hours=24 * 20), image(21, "1.0.1-pr-43.1", hours=5)]
    policy = RetentionPolicy(prereleases_per_branch=2, prerelease_days=14)
    assert deleted(images, policy=policy) == {digest(13), digest(14), digest(20)}
    reasons = decide(images, policy)
    assert reasons[digest(13)][1] == "prerelease 1.0.1-develop.3 of develop: #3, over 2 per branch"
    assert "over 14d" in reasons[digest(20)][1]
    assert reasons[digest(21)] == (False, "prerelease 1.0.1-pr-43.1 of pr-43: recent")


def test_untagged_images_go_only_when_old_and_unneeded() -> None:
    images = [image(1, hours=30), image(2, hours=2), image(3, "sha-abc1234", hours=900)]
    assert deleted(images) == {digest(1)}
    assert decide(images)[digest(3)] == (False, "no rule deletes it (no version tag)")


def test_keep_tags_keep_whatever_else_the_rules_say() -> None:
    images = [image(1, "0.1.0", "latest"), image(2, "0.2.0"), image(3, "0.3.0")]
    assert deleted(images, policy=RetentionPolicy(keep_releases=1)) == {digest(2)}


def test_an_image_in_use_stays_and_says_where() -> None:
    images = [image(1, "0.1.0", children=(2,)), image(2, hours=100), image(3, "0.2.0")]
    plan = decide(images, RetentionPolicy(keep_releases=1),
                  in_use={digest(1): "service gp-staging (task definition gp-staging:3)",
                          digest(99): "an image of another repository"})
    assert plan[digest(1)] == (False, "in use: service gp-staging (task definition gp-staging:3)")
    assert plan[digest(2)] == (False, f"child of kept index {digest(1)[:19]}")


def test_a_kept_index_keeps_its_children_and_their_signatures_to_a_fixed_point() -> None:
    images = [
        image(1, "1.0.0", children=(2, 3)), image(2, hours=100), image(3, hours=100),
        # cosign's tag scheme for the index and for one child; an OCI referrer (an SBOM
        # index) of the other child, with children of its own
        image(4, f"sha256-{1:064x}.sig", hours=100), image(5, f"sha256-{2:064x}.sig"),
        image(6, subject=3, children=(7,), hours=100), image(7, hours=100),
        # a deleted release's index, children and signature all go
        image(11, "0.1.0", children=(12,), hours=500), image(12, hours=500),
        image(13, f"sha256-{11:064x}.sig", hours=500),
        # a signature of an image no longer in the repository
        image(20, f"sha256-{999:064x}.sig", hours=1),
    ]
    plan = decide(images, RetentionPolicy(keep_releases=1))
    assert {d for d, (delete, _) in plan.items() if delete} == {
        digest(11), digest(12), digest(13), digest(20)}
    assert plan[digest(7)] == (False, f"child of kept index {digest(6)[:19]}")
    assert plan[digest(6)] == (False, f"attached to kept image {digest(3)[:19]}")
    assert plan[digest(20)][1].startswith("attached to sha256:000000000000")


def test_a_child_shared_with_a_kept_index_stays() -> None:
    images = [image(1, "2.0.0", children=(3,)), image(2, "1.0.0", children=(3,), hours=90),
              image(3, hours=90)]
    assert deleted(images, policy=RetentionPolicy(keep_releases=1)) == {digest(2)}


def test_the_plan_lists_every_image_newest_first() -> None:
    images = [image(1, "1.0.0", hours=3), image(2, hours=1), image(3, "0.9.0", hours=2)]
    plan = plan_retention(images, RetentionPolicy(), in_use={}, now=NOW)
    assert [d.image.digest for d in plan.decisions] == [digest(2), digest(3), digest(1)]


def test_revisions_beyond_the_newest_k_go_unless_in_use() -> None:
    from shipyard.domain.retention import plan_revisions

    arn = "arn:aws:ecs:r:1:task-definition/gp-staging:{}".format
    revisions = [(arn(n), "ACTIVE") for n in (1, 2, 3, 10, 11)] + [(arn(4), "INACTIVE")]
    decisions = plan_revisions(revisions, 2, in_use={arn(2): "service gp-staging"})
    assert [(d.arn.rsplit(":", 1)[1], d.delete) for d in decisions] == [
        ("11", False), ("10", False), ("4", True), ("3", True), ("2", False), ("1", True)]
    assert decisions[4].reason == "in use: service gp-staging"
    assert decisions[2].reason == "#3, beyond the newest 2" and decisions[2].status == "INACTIVE"
