"""`shipyard cleanup` on the sandbox: releases (one an index of two platforms), prereleases,
cosign-style signatures, an old release staging still runs, and untagged leftovers. Exactly
the expected digests go; whatever is in use, a kept index's children and kept signatures
stay; the kept index still copies completely with skopeo; a dry run deletes nothing."""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard_testing.oci_layouts import write_oci_layout
from shipyard_testing.registry_reads import key_pair

pytestmark = pytest.mark.integration


def _ecr_images(world) -> dict[str, set[str]]:
    details = world.client("ecr").describe_images(repositoryName=world.name)["imageDetails"]
    return {d["imageDigest"]: set(d.get("imageTags", [])) for d in details}


@pytest.fixture
def context(world, monkeypatch: pytest.MonkeyPatch):
    """A context on the sandbox for calls in this process. boto3 reads the process
    environment, which each `world.run` (the shipyard fixture) leaves without AWS_*: each
    call sets it again."""
    from shipyard.usecases.context import Context

    def make():
        for key, value in world.env.items():
            if key.startswith("AWS_"):
                monkeypatch.setenv(key, value)
        return Context(env=world.env, region=world.region)

    return make


def _sign(world, ctx, tmp_path: Path, digest: str) -> str:
    """A cosign-style signature artifact of `digest`: a small image tagged
    sha256-<hex>.sig (cosign's tag scheme), pushed straight to the registry."""
    from shipyard.adapters.oci_layout import OciLayout

    registry = world.env["SHIPYARD_REGISTRY"]
    layout = write_oci_layout(tmp_path / f"sig-{digest[7:19]}", layers=(64,), base=None)
    login = ctx.ecr.login().for_host(registry)
    tag = f"sha256-{digest.removeprefix('sha256:')}.sig"
    with ctx.registry(registry, auth=login) as client:
        client.push_layout(OciLayout.open(layout), world.name, [tag])
        pushed = client.manifest_digest(world.name, tag)
    assert pushed is not None
    return pushed


def _push_index(world, shipyard, tmp_path: Path, version: str) -> str:
    world.repo.git("commit", "-q", "--allow-empty", "-m", f"index {version}")
    layout = write_oci_layout(tmp_path / f"index-{version}", ("linux/amd64", "linux/arm64"))
    pushed = world.run(shipyard, "push", "--from-oci", str(layout), "--version", version,
                       "--json")
    assert pushed.code == 0, pushed.err
    return str(pushed.json()["digest"])


def _attached(images: dict[str, set[str]], subjects: set[str]) -> set[str]:
    """The artifacts attached to `subjects` by cosign's tags (`sha256-<hex>.sig`, `.sbom`),
    and those attached to them in turn (an SBOM's signature)."""
    found: set[str] = set()
    while True:
        names = {f"sha256-{d[7:]}{suffix}" for d in subjects | found
                 for suffix in (".sig", ".sbom")}
        more = {digest for digest, tags in images.items() if tags & names} - found
        if not more:
            return found
        found |= more


def _cleanup_settings(world, settings: str) -> None:
    """shipyard.toml's [cleanup] (the last table: each test replaces it) set to `settings`."""
    toml = world.repo.project / "shipyard.toml"
    text = toml.read_text().split("\n[cleanup]\n", 1)[0]
    toml.write_text(f"{text}\n[cleanup]\n{settings}")


def _digest(reference: str) -> str:
    return reference.rsplit("@", 1)[1]


def test_cleanup_deletes_exactly_what_the_policy_lets_go(world, shipyard, tmp_path: Path,
                                                         context) -> None:
    in_use = _digest(world.push(shipyard, "1.1.0"))
    deployed = world.run(shipyard, "deploy", "staging", "--version", "1.1.0", "--yes")
    assert deployed.code == 0, deployed.err
    old_release = _digest(world.push(shipyard, "1.2.0"))
    index = _push_index(world, shipyard, tmp_path, "1.3.0")
    develop = [_digest(world.push(shipyard, f"1.3.1-develop.{n}")) for n in (1, 2, 3)]
    # the index and the old release signed, with signed SBOMs (shipyard sign and sbom)
    key, _, _ = key_pair(tmp_path)
    for image in (index, old_release):
        for command in (["sign", image], ["sbom", image, "--sign"]):
            made = world.run(shipyard, *command, "--key", str(key))
            assert made.code == 0, made.err
    before = _ecr_images(world)
    children = [m["digest"] for m in json.loads(world.client("ecr").batch_get_image(
        repositoryName=world.name, imageIds=[{"imageDigest": index}])["images"][0][
        "imageManifest"])["manifests"]]
    assert set(children) <= set(before)  # untagged platform images, in ECR as on ECR
    _cleanup_settings(world, "keep_releases = 1\nprereleases_per_branch = 2\nkeep_tags = []\n")
    kept_artifacts = _attached(before, {index, *children})
    old_artifacts = _attached(before, {old_release})
    assert (len(kept_artifacts), len(old_artifacts)) == (7, 3)  # .sig, .sbom, the SBOMs' .sig
    expected = {old_release, *old_artifacts, develop[0]}

    # a dry run (the default without --yes) shows the plan and deletes nothing
    dry = world.run(shipyard, "cleanup", "--json")
    assert dry.code == 0, dry.err
    plan = dry.json()
    assert plan["dry_run"] is True and plan["deleted"] == []
    assert {d["digest"] for d in plan["delete"]} == expected
    reasons = {d["digest"]: d["reason"] for d in plan["keep"]}
    assert reasons[in_use].startswith(f"in use: service {world.name}-staging in {world.name}")
    assert [reasons[c] for c in children] == [f"child of kept index {index[:19]}"] * 2
    for artifact in kept_artifacts:
        assert reasons[artifact].startswith("attached to kept image "), reasons[artifact]
    assert _ecr_images(world) == before
    table = world.run(shipyard, "cleanup")
    assert table.code == 0 and "dry run: nothing deleted; run with --yes to delete" in table.out
    assert f"DELETE  {old_release[7:19]}  1.2.0" in table.out, table.out

    done = world.run(shipyard, "cleanup", "--yes", "--json")
    assert done.code == 0, done.err
    result = done.json()
    assert set(result["deleted"]) == expected and result["failures"] == []
    assert result["delete_calls"] == 1
    after = _ecr_images(world)
    assert set(after) == set(before) - expected
    # the kept index copies completely (every child and blob there), as a client pulls it
    password = base64.b64decode(world.client("ecr").get_authorization_token()[
        "authorizationData"][0]["authorizationToken"]).decode()
    copied = subprocess.run(
        ["skopeo", "copy", "--all", "--src-tls-verify=false", "--src-creds", password,
         f"docker://{world.env['SHIPYARD_REGISTRY']}/{world.name}:1.3.0",
         f"oci:{tmp_path / 'copy'}"], capture_output=True, text=True, check=False)
    assert copied.returncode == 0, copied.stderr
    # staging still runs the old release, and answers
    assert _digest(world.running_image("staging")) == in_use
    assert world.served_version(8081) == "1.1.0"

    # three weeks on: the prereleases are past prerelease_days, an untagged leftover past
    # untagged_hours; the kept index's untagged children still stay
    from shipyard.config import load_config
    from shipyard.usecases.cleanup import plan_cleanup

    leftover = _sign(world, context(), tmp_path, "sha256:" + "0" * 64)  # attached to no image here
    later = plan_cleanup(load_config(world.repo.project), context(),
                         now=datetime.now(UTC) + timedelta(days=21))
    assert {d.image.digest for d in later.retention.deleted} == {develop[1], develop[2],
                                                                 leftover}


def test_task_definition_revisions_beyond_the_newest_go_never_one_in_use(
        world, shipyard) -> None:
    for version in ("2.0.0", "2.1.0", "2.2.0"):
        world.push(shipyard, version)
        deployed = world.run(shipyard, "deploy", "staging", "--version", version, "--yes")
        assert deployed.code == 0, deployed.err
    ecs = world.client("ecs")
    family = f"{world.name}-staging"
    running = world.service("staging")["taskDefinition"]
    # a newer revision that nothing uses: the newest stays, the one in use stays too
    definition = ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]
    kept_keys = ("family", "containerDefinitions", "networkMode", "requiresCompatibilities",
                 "cpu", "memory", "executionRoleArn", "taskRoleArn", "volumes")
    newest = ecs.register_task_definition(**{k: definition[k] for k in kept_keys
                                             if definition.get(k)})["taskDefinition"][
        "taskDefinitionArn"]
    before = world.task_definitions("staging")
    older = [arn for arn in before if arn not in (running, newest)]
    assert len(older) >= 3, before
    _cleanup_settings(world, "keep_task_definitions = 1\n")

    dry = world.run(shipyard, "cleanup", "--task-definitions", "--json")
    assert dry.code == 0, dry.err
    plan = dry.json()
    assert family in plan["families"] and plan["dry_run"] is True
    assert {d["arn"] for d in plan["delete"]} >= set(older)
    assert not {d["arn"] for d in plan["delete"]} & {running, newest}
    reasons = {d["arn"]: d["reason"] for d in plan["keep"]}
    assert reasons[running].startswith(f"in use: service {family} in {world.name}")
    assert reasons[newest] == "among the newest 1"
    assert world.task_definitions("staging") == before  # nothing deregistered

    done = world.run(shipyard, "cleanup", "--task-definitions", "--yes", "--json")
    assert done.code == 0, done.err
    result = done.json()
    assert set(older) <= set(result["deregistered"]) and set(older) <= set(result["deleted"])
    assert result["failures"] == []
    assert world.task_definitions("staging") == [running, newest]
    assert world.service("staging")["taskDefinition"] == running
    assert world.served_version(8081) == "2.2.0"


def test_the_lifecycle_policy_is_put_and_selects_nothing_a_kept_image_needs(
        world, shipyard, context, tmp_path: Path) -> None:
    _cleanup_settings(world, 'never_deployed = ["pr-*"]\n')
    world.push(shipyard, "2.2.1-pr-7.1")  # a pull request's build, which nothing runs
    index = _push_index(world, shipyard, tmp_path, "3.0.0")  # untagged children
    _sign(world, context(), tmp_path, index)  # and a signature tag
    printed = world.run(shipyard, "cleanup", "--lifecycle-policy", "--apply", "--json")
    assert printed.code == 0, printed.err
    answer = printed.json()
    assert answer["applied"] is True and len(answer["policy"]["rules"]) == 1
    assert "untagged" in answer["stays_in_cleanup"][0]["rule"]
    stored = world.client("ecr").get_lifecycle_policy(repositoryName=world.name)
    assert json.loads(stored["lifecyclePolicyText"]) == answer["policy"]

    from shipyard.config import load_config
    from shipyard.domain.lifecycle import selects
    from shipyard.usecases.cleanup import plan_cleanup

    plan = plan_cleanup(load_config(world.repo.project), context(), now=datetime.now(UTC))
    (rule,) = answer["policy"]["rules"]
    selected = {d.image.tags for d in plan.retention.decisions if selects(rule, d.image)}
    assert len(selected) == 1 and "2.2.1-pr-7.1" in next(iter(selected)), selected
    needed = [d for d in plan.retention.kept
              if d.reason.startswith(("in use", "child of", "attached to"))]
    assert needed and not [d for d in needed if selects(rule, d.image)]
    # --apply without --lifecycle-policy is refused, and writes nothing
    refused = world.run(shipyard, "cleanup", "--apply")
    assert refused.code == 2 and "pass it with --lifecycle-policy" in refused.err
