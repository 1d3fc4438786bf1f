"""`shipyard push --from-oci` and `shipyard scan` against the sandbox, checked with skopeo."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from shipyard_testing.oci_layouts import tar_layer, write_oci_layout

pytestmark = pytest.mark.integration


def creds(ecr_client) -> str:
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode()


def skopeo(env: dict, ecr_client, *args: str) -> dict:
    done = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--creds",
                           creds(ecr_client), *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def registry_tags(env: dict, ecr_client) -> list[str]:
    """The repository's tags in the registry; [] only when the registry says it has none."""
    repo = f"docker://{env['SHIPYARD_REGISTRY']}/{env['ECR_REPOSITORY']}"
    done = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", "--creds",
                           creds(ecr_client), repo], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        assert "404 (not found)" in done.stderr.lower(), done.stderr  # other failures are real
        return []
    return sorted(json.loads(done.stdout)["Tags"])


def repositories(ecr_client) -> list[str]:
    return [r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"]]


def test_push_an_index_and_skopeo_agrees(repo, shipyard, sandbox_env, ecr_client,
                                         oci_layout_factory, tmp_path: Path) -> None:
    layout = oci_layout_factory(("linux/amd64", "linux/arm64"))
    output = tmp_path / "github_output"
    result = shipyard(repo, "push", "--from-oci", str(layout), "--json",
                      env={"GITHUB_OUTPUT": str(output)})
    assert result.code == 0, result.err
    data = result.json()
    short = repo.git("rev-parse", "--short=7", "HEAD")
    assert data["version"] == "1.1.0"
    assert data["tags"] == ["1.1.0", "1.1", "latest", f"sha-{short}", f"20260304-{short}"]
    assert data["platforms"] == ["linux/amd64", "linux/arm64"]
    assert (data["registry"], data["repository"]) == (sandbox_env["SHIPYARD_REGISTRY"],
                                                      sandbox_env["ECR_REPOSITORY"])
    assert data["pushed_blobs"] > 0 and data["dry_run"] is False
    base = f"docker://{sandbox_env['SHIPYARD_REGISTRY']}/{sandbox_env['ECR_REPOSITORY']}"
    raw_index = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", "--creds",
                                creds(ecr_client), f"{base}:1.1.0"], capture_output=True,
                               check=True).stdout
    assert "sha256:" + hashlib.sha256(raw_index).hexdigest() == data["digest"]
    arm = skopeo(sandbox_env, ecr_client, "--override-arch", "arm64", f"{base}:latest")
    assert arm["Architecture"] == "arm64"
    assert registry_tags(sandbox_env, ecr_client) == sorted(data["tags"])
    assert f"image={sandbox_env['SHIPYARD_REGISTRY']}/{sandbox_env['ECR_REPOSITORY']}@" \
           f"{data['digest']}\n" in output.read_text()
    # the ECR token is a secret: not in the output, the log, or the step outputs
    password = creds(ecr_client).split(":", 1)[1]
    assert password not in result.out + result.err + output.read_text()
    # the repository was created as the brief asks
    created = ecr_client.describe_repositories(repositoryNames=[sandbox_env["ECR_REPOSITORY"]])[
        "repositories"][0]
    assert created["imageScanningConfiguration"]["scanOnPush"] is True
    # version, sha- and date tags immutable; the floating tags 1.1 and latest free to move
    assert created["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert created["imageTagMutabilityExclusionFilters"] == [
        {"filter": "*.*.*", "filterType": "WILDCARD"}, {"filter": "*-*", "filterType": "WILDCARD"}]


def test_repush_skips_every_blob_and_tag(repo, shipyard, sandbox_env, ecr_client,
                                         oci_layout_factory) -> None:
    layout = oci_layout_factory()
    assert shipyard(repo, "push", "--from-oci", str(layout)).code == 0
    again = shipyard(repo, "push", "--from-oci", str(layout), "--json")
    assert again.code == 0, again.err
    # a config and three layers, all present already
    assert (again.json()["pushed_blobs"], again.json()["skipped_blobs"]) == (0, 4)
    assert again.json()["tags_set"] == []
    assert sorted(again.json()["tags_unchanged"]) == sorted(again.json()["tags"])
    plain = shipyard(repo, "push", "--from-oci", str(layout))
    assert "tag 1.1.0: already points at this image" in plain.out


def test_a_repush_that_sends_nothing_reads_no_layer_but_one_with_a_tag_to_set_does(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    layout = oci_layout_factory()
    assert shipyard(repo, "push", "--from-oci", str(layout)).code == 0
    # the same size, other content: a layer that would now fail its digest check
    blobs = sorted((layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    layer = blobs[-1]
    layer.write_bytes(bytes(b ^ 0xFF for b in layer.read_bytes()))
    again = shipyard(repo, "push", "--from-oci", str(layout), "--json")
    assert again.code == 0 and again.json()["pushed_blobs"] == 0, again.err  # not read
    moved = shipyard(repo, "push", "--from-oci", str(layout), "--version", "7.0.0")
    assert moved.code != 0 and layer.name in moved.err  # a tag to set: every blob checked
    assert "7.0.0" not in registry_tags(sandbox_env, ecr_client)


def test_dry_run_changes_nothing(repo, shipyard, sandbox_env, ecr_client,
                                 oci_layout_factory) -> None:
    layout = oci_layout_factory()
    before = repo.state()
    result = shipyard(repo, "push", "--from-oci", str(layout), "--dry-run", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["dry_run"] is True and data["repository_exists"] is False
    assert data["repository_settings"]["tag_mutability"] == "MUTABLE_WITH_EXCLUSION"
    assert sandbox_env["ECR_REPOSITORY"] not in repositories(ecr_client)
    assert registry_tags(sandbox_env, ecr_client) == []
    assert repo.state() == before
    plain = shipyard(repo, "push", "--from-oci", str(layout), "--dry-run")
    assert "DRY RUN OK" in plain.out and "will be created" in plain.out


def test_version_collision_changes_nothing(repo, shipyard, sandbox_env, ecr_client,
                                           oci_layout_factory) -> None:
    first, second = oci_layout_factory(), oci_layout_factory()
    assert shipyard(repo, "push", "--from-oci", str(first), "--version", "2.0.0").code == 0
    repo.commit("next")  # the same commit's image would be promoted, not collide
    tags_before = registry_tags(sandbox_env, ecr_client)
    images_before = ecr_client.describe_images(repositoryName=sandbox_env["ECR_REPOSITORY"])[
        "imageDetails"]
    result = shipyard(repo, "push", "--from-oci", str(second), "--version", "2.0.0")
    assert result.code == 6
    assert f"image tag {sandbox_env['ECR_REPOSITORY']}:2.0.0 already points at" in result.err
    assert "versions are never overwritten" in result.err
    assert registry_tags(sandbox_env, ecr_client) == tags_before
    after = ecr_client.describe_images(repositoryName=sandbox_env["ECR_REPOSITORY"])[
        "imageDetails"]
    assert [i["imageDigest"] for i in after] == [i["imageDigest"] for i in images_before]


def test_moving_tag_held_by_an_immutable_repository_is_skipped(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    ecr_client.create_repository(repositoryName=sandbox_env["ECR_REPOSITORY"],
                                 imageTagMutability="IMMUTABLE")
    assert shipyard(repo, "push", "--from-oci", str(oci_layout_factory()),
                    "--version", "3.0.0").code == 0
    repo.commit("next")
    result = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()),
                      "--version", "3.0.1")
    assert result.code == 0, result.err
    assert "moving tag 3.0 is immutable" in result.err
    assert "moving tag latest is immutable" in result.err


def test_bad_input_changes_nothing(repo, shipyard, sandbox_env, ecr_client, tmp_path) -> None:
    not_a_layout = tmp_path / "empty"
    not_a_layout.mkdir()
    result = shipyard(repo, "push", "--from-oci", str(not_a_layout))
    assert result.code == 2 and "is not an OCI image layout" in result.err
    result = shipyard(repo, "push", "--from-oci", str(not_a_layout),
                      env={"AWS_ACCOUNT_ID": "12345"})
    assert result.code == 2
    bad_account = shipyard(repo, "push", "--dry-run", env={"AWS_ACCOUNT_ID": "12345"})
    assert bad_account.code == 2 and "AWS_ACCOUNT_ID '12345' is not a 12-digit" in \
        bad_account.err
    assert sandbox_env["ECR_REPOSITORY"] not in repositories(ecr_client)


# --- scans -------------------------------------------------------------------------------

def vulnerable_layout(path: Path, package: str = "openssl", version: str = "1.1.1n-0") -> Path:
    """A one-layer image whose dpkg database lists `package` at `version`."""
    status = f"Package: {package}\nStatus: install ok installed\nVersion: {version}\n\n".encode()
    return write_oci_layout(path, base=None, ref_name=None,
                            layers=[tar_layer({"var/lib/dpkg/status": status})])


def test_scan_gate_fails_on_a_critical_finding_and_writes_reports(
        repo, shipyard, sandbox_env, ecr_client, tmp_path: Path) -> None:
    outputs, summary = tmp_path / "out", tmp_path / "summary.md"
    result = shipyard(repo, "push", "--from-oci", str(vulnerable_layout(tmp_path / "v")),
                      "--scan", "--json", env={"GITHUB_OUTPUT": str(outputs),
                                               "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.code == 11
    assert "SBX-2026-0001 (CRITICAL) in openssl 1.1.1n-0" in result.err
    data = result.json()
    assert data["scan"]["passed"] is False and data["scan"]["counts"] == {"CRITICAL": 1}
    # scan-on-push already scanned it: the findings were reused, no second scan started
    assert data["scan"]["platforms"][0]["reused"] is True
    reports = repo.project / ".shipyard" / "scan"
    sarif = json.loads((reports / "scan.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"][0]["ruleId"] == "SBX-2026-0001"
    assert sarif["runs"][0]["results"][0]["level"] == "error"
    assert json.loads((reports / "scan.json").read_text())["blocking"] == 1
    # CI sees the image (it was pushed) and the failed gate
    assert "image=" in outputs.read_text() and "scan-passed=false\n" in outputs.read_text()
    assert "### Scan FAILED (threshold CRITICAL)" in summary.read_text()
    assert "| CRITICAL | 1 |" in summary.read_text()


def test_scan_passes_below_threshold_and_with_an_allowlist(
        repo, shipyard, sandbox_env, ecr_client, tmp_path: Path) -> None:
    layout = vulnerable_layout(tmp_path / "v", package="libexpat1", version="2.2.0-1")
    result = shipyard(repo, "push", "--from-oci", str(layout), "--scan", "--json")
    assert result.code == 0, result.err  # MEDIUM is below the default CRITICAL threshold
    digest = result.json()["digest"]
    strict = shipyard(repo, "scan", digest, "--threshold", "medium")
    assert strict.code == 11 and "SBX-2026-0004" in strict.err
    bogus = shipyard(repo, "scan", digest, "--threshold", "severe")
    assert bogus.code == 2 and "--threshold 'severe' is not a severity" in bogus.err
    repo.write("allow.toml", '[[ignore]]\nid = "SBX-2026-0004"\nreason = "parser unused"\n'
               "expires = 2999-01-01\n")
    repo.write("shipyard.toml", '[scan]\nallowlist = "allow.toml"\nthreshold = "MEDIUM"\n')
    allowed = shipyard(repo, "scan", "1.1.0", "--json")
    assert allowed.code == 0, allowed.err
    assert allowed.json()["allowlisted"] == ["SBX-2026-0004"]
    repo.write("allow.toml", '[[ignore]]\nid = "SBX-2026-0004"\nreason = "parser unused"\n'
               "expires = 2020-01-01\n")
    assert shipyard(repo, "scan", "1.1.0").code == 11  # an expired entry allows nothing


def test_second_scan_on_the_same_day_reuses_findings(repo, shipyard, sandbox_env, ecr_client,
                                                     tmp_path: Path) -> None:
    ecr_client.create_repository(repositoryName=sandbox_env["ECR_REPOSITORY"],
                                 imageScanningConfiguration={"scanOnPush": False})
    layout = vulnerable_layout(tmp_path / "v", package="zlib1g", version="1:1.2.11-1")
    digest = shipyard(repo, "push", "--from-oci", str(layout), "--json").json()["digest"]
    first = shipyard(repo, "scan", digest, "--json")
    assert first.code == 0 and first.json()["platforms"][0]["reused"] is False
    assert first.json()["counts"] == {"HIGH": 1}
    second = shipyard(repo, "scan", digest, "--json")  # LimitExceeded: reuse, not fail
    assert second.code == 0 and second.json()["platforms"][0]["reused"] is True


def test_enhanced_scanning_is_never_started_and_active_counts_as_done(
        repo, shipyard, sandbox_env, ecr_client, tmp_path: Path) -> None:
    layout = vulnerable_layout(tmp_path / "v")
    ecr_client.put_registry_scanning_configuration(scanType="ENHANCED", rules=[
        {"scanFrequency": "CONTINUOUS_SCAN",
         "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}])
    try:
        result = shipyard(repo, "push", "--from-oci", str(layout), "--scan", "--json")
    finally:  # the registry setting is shared by the whole sandbox
        ecr_client.put_registry_scanning_configuration(scanType="BASIC", rules=[])
    assert result.code == 11, result.err
    scan = result.json()["scan"]
    assert scan["platforms"][0]["status"] == "ACTIVE"
    assert scan["platforms"][0]["scan_type"] == "ENHANCED"
    assert scan["counts"] == {"CRITICAL": 1} and scan["blocking"] == ["SBX-2026-0001"]


def test_a_dry_run_that_would_build_says_which_tags_are_taken(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    assert shipyard(repo, "push", "--from-oci", str(oci_layout_factory())).code == 0
    repo.commit("next", Dockerfile="FROM scratch\nCOPY version.txt /\n")  # a new commit: built
    result = shipyard(repo, "push", "--dry-run")
    assert result.code == 0, result.err
    assert "tag 1.1.0 already points at" in result.err
    assert "the push fails (exit 6) unless this build reproduces that image" in result.err


def test_a_bad_platform_is_refused_before_anything(repo, shipyard, sandbox_env,
                                                   ecr_client) -> None:
    result = shipyard(repo, "push", "--platform", "linux/arm64", "--platform", "amd64",
                      "--dry-run")
    assert result.code == 2 and "'amd64'" in result.err
    assert sandbox_env["ECR_REPOSITORY"] not in repositories(ecr_client)


def test_a_failed_build_creates_no_repository(repo, shipyard, sandbox_env, ecr_client) -> None:
    repo.write("Dockerfile", "FROM scratch\nFRUM nothing\n")
    result = shipyard(repo, "push", "--platform", "linux/amd64")
    assert result.code == 10, result.err
    assert "Dockerfile line 2" in result.err or "FRUM" in result.err
    assert sandbox_env["ECR_REPOSITORY"] not in repositories(ecr_client)
