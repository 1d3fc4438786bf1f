"""The compliance gate of production on the sandbox: `policy check` names every failed rule,
`deploy production` refuses before any write, and once the image is signed, has signed SBOMs
and runs in staging, both let it through.

This module has its own world; its production gains a policy asking for everything, with a
PEM signing key of the test's own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard_testing.registry_reads import key_pair

pytestmark = pytest.mark.integration

POLICY = 19  # the README's exit code table

POLICY_TOML = """
[signing]
key = "signing.key"

[environments.production.policy]
signed = true
sbom = true
scan = true
labels = ["org.opencontainers.image.version"]  # what the test images carry (no build)
promoted_from = "staging"
"""


@pytest.fixture(scope="module")
def gated(world, tmp_path_factory: pytest.TempPathFactory):
    """The world with production's policy and the signing key in the project."""
    key, _, _ = key_pair(tmp_path_factory.mktemp("keys"))
    project = world.repo.project
    (project / "signing.key").write_bytes(key.read_bytes())
    config = (project / "shipyard.toml").read_text()
    # the [signing] table must come before [environments...]: TOML tables end at the next
    signing, policy = POLICY_TOML.split("[environments.production.policy]")
    (project / "shipyard.toml").write_text(signing + config
                                           + "[environments.production.policy]" + policy)
    world.repo.git("add", "-A")
    world.repo.git("commit", "-q", "-m", "production's policy")
    return world


def rules(result) -> dict[str, bool]:
    return {rule["rule"]: rule["passed"] for rule in json.loads(result.out)["rules"]}


def test_an_unsigned_image_staging_never_ran_is_refused_naming_each_rule(
        gated, shipyard) -> None:
    image = gated.push(shipyard, "1.1.0")
    checked = gated.run(shipyard, "policy", "check", "production", "--image", image, "--json")
    assert checked.code == POLICY, checked.err
    assert rules(checked) == {"signed": False, "sbom": False, "scan": True, "labels": True,
                              "promoted": False}
    message = json.loads(checked.err)["error"]["message"]
    for words in ("signed: 2 of 2", "no signatures", "sbom: no SBOM attached",
                  "promoted: staging does not run it"):
        assert words in message or words.replace("2 of 2", "1 of 1") in message, message

    definitions = gated.task_definitions("production")
    deployments = gated.client("codedeploy").list_deployments(
        applicationName=gated.name, deploymentGroupName=f"{gated.name}-production")
    refused = gated.run(shipyard, "deploy", "production", "--image", image, "--yes")
    assert refused.code == POLICY, refused.out + refused.err
    assert refused.err.count("error:") == 1 and "policy of production refuses" in refused.err
    assert "policy signed: FAILED" in refused.out + refused.err
    # nothing was written: no task definition registered, no deployment created
    assert gated.task_definitions("production") == definitions
    assert gated.client("codedeploy").list_deployments(
        applicationName=gated.name, deploymentGroupName=f"{gated.name}-production"
    )["deployments"] == deployments["deployments"]


def test_signed_with_sboms_and_run_in_staging_the_image_passes(gated, shipyard) -> None:
    image = gated.push(shipyard, "1.1.0")
    digest = image.rsplit("@", 1)[1]
    assert gated.run(shipyard, "sbom", digest, "--sign").code == 0
    signed = gated.run(shipyard, "sign", digest)
    assert signed.code == 0, signed.err
    # signed, with SBOMs, but not yet in staging: only promotion fails
    checked = gated.run(shipyard, "policy", "check", "production", "--image", image, "--json")
    assert checked.code == POLICY
    assert [rule for rule, ok in rules(checked).items() if not ok] == ["promoted"]

    deployed = gated.run(shipyard, "deploy", "staging", "--image", image)
    assert deployed.code == 0, deployed.out + deployed.err
    checked = gated.run(shipyard, "policy", "check", "production", "--image", image)
    assert checked.code == 0, checked.out + checked.err
    assert checked.out.count("ok ") == 5
    planned = gated.run(shipyard, "deploy", "production", "--image", image, "--dry-run")
    assert planned.code == 0, planned.out + planned.err
    assert "policy promoted: ok" in planned.out + planned.err


def test_policy_check_needs_an_image_and_a_policy(gated, shipyard, tmp_path: Path) -> None:
    missing = gated.run(shipyard, "policy", "check", "production")
    assert missing.code == 2 and "--image" in missing.err
    none = gated.run(shipyard, "policy", "check", "staging", "--version", "1.1.0")
    assert none.code == 2 and "has no policy" in none.err
