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


def test_a_signature_by_another_key_and_a_tampered_image_are_refused(
        gated, shipyard, tmp_path: Path) -> None:
    """The gate's `signed` rule is verify-image's: a signature by a key the policy does not
    name counts for nothing, and neither does a good signature copied onto another image (an
    image swapped in under a signed image's signature tag)."""
    import base64
    import subprocess

    other, _, _ = key_pair(tmp_path, "other")
    foreign = gated.push(shipyard, "1.4.0")
    assert gated.run(shipyard, "sign", foreign.rsplit("@", 1)[1], "--key", str(other)).code == 0
    checked = gated.run(shipyard, "policy", "check", "production", "--image", foreign, "--json")
    assert checked.code == POLICY
    signed = next(r for r in json.loads(checked.out)["rules"] if r["rule"] == "signed")
    assert not signed["passed"] and "does not verify with the key" in signed["detail"]

    good = gated.push(shipyard, "1.1.0").rsplit("@", 1)[1]  # signed by the policy's key above
    tampered = gated.push(shipyard, "1.5.0").rsplit("@", 1)[1]
    password = base64.b64decode(gated.client("ecr").get_authorization_token()[
        "authorizationData"][0]["authorizationToken"]).decode()
    base = f"docker://{gated.env['SHIPYARD_REGISTRY']}/{gated.name}"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                    "--dest-tls-verify=false", "--src-creds", password, "--dest-creds",
                    password, f"{base}:sha256-{good[7:]}.sig", f"{base}:sha256-{tampered[7:]}.sig"],
                   check=True)
    checked = gated.run(shipyard, "policy", "check", "production", "--image", f"@{tampered}",
                        "--json")
    assert checked.code == POLICY
    signed = next(r for r in json.loads(checked.out)["rules"] if r["rule"] == "signed")
    assert not signed["passed"] and f"it signs another image, {good}" in signed["detail"]
    refused = gated.run(shipyard, "deploy", "production", "--image", f"@{tampered}", "--yes")
    assert refused.code == POLICY and "it signs another image" in refused.err
