"""The lifecycle policy Shipyard writes carries only rules that cannot select an image
anyone needs: never an untagged image, a release, a signature or a deployable prerelease."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shipyard.domain.lifecycle import lifecycle_plan, pattern_problem, selects
from shipyard.domain.retention import RetentionPolicy, StoredImage, plan_retention

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def image(n: int, *tags: str, children: tuple[int, ...] = ()) -> StoredImage:
    return StoredImage(f"sha256:{n:064x}", tags, NOW, tuple(f"sha256:{c:064x}" for c in children))


def test_without_never_deployed_branches_no_rule_is_safe_and_each_says_why() -> None:
    plan = lifecycle_plan(RetentionPolicy(), ())
    assert json.loads(plan.document()) == {"rules": []}
    assert [rule for rule, _ in plan.stays_in_cleanup] == [
        "untagged images after 24h", "the newest 10 releases",
        "prereleases after 14 days, at most 5 per branch",
        "attached artifacts follow their image"]


def test_a_never_deployed_branch_gets_an_age_rule_that_selects_only_its_prereleases() -> None:
    plan = lifecycle_plan(RetentionPolicy(prerelease_days=7), ("pr-*",))
    (rule,) = plan.rules
    assert rule["selection"] == {"tagStatus": "tagged", "tagPatternList": ["*-pr-*.*"],
                                 "countType": "sinceImagePushed", "countUnit": "days",
                                 "countNumber": 7}
    assert rule["action"] == {"type": "expire"} and rule["rulePriority"] == 1
    images = [image(1, "1.4.3-pr-42.3", "sha-abc1234"), image(2, "1.5.0", "latest"),
              image(3, "1.4.3-develop.2"), image(4, f"sha256-{1:064x}.sig"), image(5),
              image(6, "1.4.3-pr-7.1", children=(5,))]
    assert [i.digest[-1] for i in images if selects(rule, i)] == ["1", "6"]


def test_no_rule_ever_selects_what_cleanup_keeps_for_a_need() -> None:
    """A kept index's children, a kept image's signature, an image in use: whatever the
    never_deployed branches, the lifecycle rules select none of them."""
    images = [image(1, "1.5.0", children=(2, 3)), image(2), image(3),
              image(4, f"sha256-{1:064x}.sig"), image(5, "1.4.3-pr-42.3"),
              image(6, "1.4.3-develop.9")]
    kept = plan_retention(images, RetentionPolicy(keep_releases=1), now=NOW,
                          in_use={image(6).digest: "staging"}).kept
    needed = {d.image.digest for d in kept
              if d.reason.startswith(("in use", "child of", "attached to"))}
    assert len(needed) == 4  # the two children, the signature, the image in use
    for branches in (("pr-*",), ("pr-*", "feature-*"), ("renovate-*",)):
        for rule in lifecycle_plan(RetentionPolicy(), branches).rules:
            assert not [i.digest for i in images if i.digest in needed and selects(rule, i)]


@pytest.mark.parametrize(("branch", "words"), [
    ("*", "would also select tags such as"),
    ("pr-*", None),
    ("develop*", "would also select tags such as '1.2.4-develop.3'"),  # staging runs those
    ("pr/42", "is not a branch slug pattern"),
    ("", "is not a branch slug pattern"),
])
def test_a_pattern_that_would_select_more_is_refused(branch: str, words: str | None) -> None:
    problem = pattern_problem(branch)
    if words is None:
        assert problem is None
    else:
        assert problem is not None and words in problem


def test_gamepulse_templates_lifecycle_policy_is_the_one_cleanup_prints() -> None:
    """The repository the template makes carries only the rule ECR can apply safely: what
    `shipyard -C GamePulse cleanup --lifecycle-policy` prints for GamePulse's [cleanup]."""
    import json
    from pathlib import Path

    from shipyard.config import load_config
    from shipyard.usecases.cleanup import policy_of
    from shipyard_sandbox.provision.template import load_template

    gamepulse = Path(__file__).parents[3] / "GamePulse"
    config = load_config(gamepulse)
    template = load_template(gamepulse / "infra" / "gamepulse.yaml")
    text = template["Resources"]["Repository"]["Properties"]["LifecyclePolicy"][
        "LifecyclePolicyText"]
    plan = lifecycle_plan(policy_of(config), config.cleanup.never_deployed)
    assert json.loads(text) == {"rules": list(plan.rules)}
    assert all(rule["selection"]["tagStatus"] == "tagged" for rule in plan.rules)
