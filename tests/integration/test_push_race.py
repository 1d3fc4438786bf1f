"""Two `shipyard push` processes race for one version in a MUTABLE repository of the sandbox.

The registry has no compare-and-swap on tags; push checks the version tag right before its PUT
and reads it back after, so in every round at most one process exits 0, the other exits 6
saying why, and the tag ends on the winner's image.
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


def test_racing_pushes_in_a_mutable_repository_never_both_win(
        repo, sandbox_env, ecr_client, oci_layout_factory) -> None:
    repository = sandbox_env["ECR_REPOSITORY"]
    ecr_client.create_repository(repositoryName=repository, imageTagMutability="MUTABLE")
    for round_number in range(ROUNDS):
        repo.commit(f"round {round_number}")  # a fresh sha- tag as well
        version = f"4.0.{round_number}"
        racers = [subprocess.Popen(
            [sys.executable, "-m", "shipyard", "-C", str(repo.project), "push", "--from-oci",
             str(oci_layout_factory()), "--version", version, "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
            for _ in range(2)]
        outcomes = [(racer.wait(timeout=PROCESS_SECONDS), *racer.communicate())
                    for racer in racers]
        codes = sorted(code for code, _, _ in outcomes)
        # Never both: at most one push claims the version. Both can lose (each wins one of
        # the unique tags, which are written one after another): safe, but not a success.
        assert codes in ([0, 6], [6, 6]), outcomes
        for _, _, loser_err in (o for o in outcomes if o[0] == 6):
            assert f"image tag {repository}:" in loser_err
            assert "choose another version" in loser_err
        winners = [json.loads(out)["digest"] for code, out, _ in outcomes if code == 0]
        if winners:  # the version tag ends on the one push that said it set it
            image = ecr_client.describe_images(repositoryName=repository,
                                               imageIds=[{"imageTag": version}])["imageDetails"]
            assert [i["imageDigest"] for i in image] == winners
