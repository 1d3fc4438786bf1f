"""Two `shipyard push` processes race for one version in a repository of the sandbox.

In a MUTABLE repository the registry has no compare-and-swap on tags; push checks the version
tag right before its PUT and reads it back after. In the repository Shipyard creates, version
tags are immutable and the registry refuses the second PUT itself (push then neither checks
again nor reads back). Either way, in every round at most one process exits 0, the other
exits 6 saying why, and the tag ends on the winner's image; or the later one finds the
commit's image already pushed and promotes it, and both report that one digest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

ROUNDS = 4
PROCESS_SECONDS = 120  # one small push on loopback; this only stops a hang


def _push(repo, layout, version: str) -> list[str]:
    return [sys.executable, "-m", "shipyard", "-C", str(repo.project), "push", "--from-oci",
            str(layout), "--version", version, "--json"]


@pytest.mark.parametrize("mutability", ["MUTABLE", "shipyard's default"])
def test_racing_pushes_never_both_win(repo, sandbox_env, ecr_client, oci_layout_factory,
                                      mutability: str) -> None:
    repository = sandbox_env["ECR_REPOSITORY"]
    if mutability == "MUTABLE":
        ecr_client.create_repository(repositoryName=repository, imageTagMutability="MUTABLE")
    else:  # a first push creates it as Shipyard does: version tags immutable
        subprocess.run(_push(repo, oci_layout_factory(), "3.9.9"), check=True,
                       capture_output=True, timeout=PROCESS_SECONDS, env=dict(os.environ))
        settings = ecr_client.describe_repositories(
            repositoryNames=[repository])["repositories"][0]
        assert settings["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION", settings
    for round_number in range(ROUNDS):
        repo.commit(f"round {round_number}")  # a fresh sha- tag as well
        version = f"4.0.{round_number}"
        racers = [subprocess.Popen(
            _push(repo, oci_layout_factory(), version), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
            for _ in range(2)]
        outcomes = [(racer.wait(timeout=PROCESS_SECONDS), *racer.communicate())
                    for racer in racers]
        codes = sorted(code for code, _, _ in outcomes)
        # Never two images: at most one push claims the version for its image. Both can lose
        # (each wins one of the unique tags, written one after another): safe, not a success.
        # Both win only when the later one found the commit's image (its sha- tag) already
        # pushed by the first and promoted that very image: build once, one digest.
        if codes == [0, 0]:
            reports = [json.loads(out) for _, out, _ in outcomes]
            assert len({r["digest"] for r in reports}) == 1, outcomes
            assert sorted(bool(r["promoted"]) for r in reports) == [False, True], outcomes
        else:
            assert codes in ([0, 6], [6, 6]), outcomes
        for _, _, loser_err in (o for o in outcomes if o[0] == 6):
            assert f"image tag {repository}:" in loser_err
            # lost in the upload's race, or found the version taken before sending anything
            assert "choose another version" in loser_err or \
                "pass --version with a version not yet pushed" in loser_err, loser_err
        winners = {json.loads(out)["digest"] for code, out, _ in outcomes if code == 0}
        if winners:  # the version tag ends on the one image the winners said they set it on
            image = ecr_client.describe_images(repositoryName=repository,
                                               imageIds=[{"imageTag": version}])["imageDetails"]
            assert {i["imageDigest"] for i in image} == winners
