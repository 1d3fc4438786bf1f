"""`shipyard doctor` against the sandbox: a healthy set-up passes every AWS check, and each
failure injected (no credentials, an endpoint that is not AWS, a missing repository, a
registry that refuses the token) gives its own failing check and fix. No run writes anything:
not the repository, not ECR, not the registry."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from shipyard_testing.registry_reads import registry_tags

pytestmark = pytest.mark.integration

DIAGNOSIS = 20  # the README's exit code table


def aws_checks(result) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.out)["checks"] if c["group"] == "aws"}


def repositories(ecr_client) -> list[str]:
    return sorted(r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"])


def test_a_healthy_sandbox_passes_and_nothing_is_written(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory) -> None:
    pushed = shipyard(repo, "push", "--from-oci", str(oci_layout_factory()))
    assert pushed.code == 0, pushed.err
    before = (repo.state(), repositories(ecr_client), registry_tags(sandbox_env, ecr_client))
    checked = shipyard(repo, "doctor", "--json")
    assert checked.code == 0, checked.out + checked.err
    checks = aws_checks(checked)
    assert {name: c["status"] for name, c in checks.items()} == {
        "credentials": "ok", "clock": "ok", "repository": "ok", "registry login": "ok",
        "base image": "skipped"}  # its build args name no base image in the registry
    assert sandbox_env["AWS_ENDPOINT_URL"] in checks["credentials"]["detail"]
    assert after_state(repo, ecr_client, sandbox_env) == before
    text = shipyard(repo, "doctor")
    assert text.code == 0 and "aws:" in text.out and "ok   registry login" in text.out


def after_state(repo, ecr_client, sandbox_env) -> tuple:
    return repo.state(), repositories(ecr_client), registry_tags(sandbox_env, ecr_client)


def test_no_credentials(repo, shipyard, sandbox_env, monkeypatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    checked = shipyard(repo, "doctor", "--json")
    assert checked.code == DIAGNOSIS
    checks = aws_checks(checked)
    assert checks["credentials"]["status"] == "fail"
    assert "no AWS credentials found" in checks["credentials"]["detail"]
    assert "AWS_ACCESS_KEY_ID" in checks["credentials"]["fix"]
    assert {checks[n]["status"] for n in ("clock", "repository", "registry login",
                                          "base image")} == {"skipped"}


def test_an_endpoint_that_is_not_aws(repo, shipyard, sandbox_env, monkeypatch) -> None:
    # the registry answers HTTP, but not as AWS does
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{sandbox_env['SHIPYARD_REGISTRY']}")
    checked = shipyard(repo, "doctor", "--json")
    assert checked.code == DIAGNOSIS
    credentials = aws_checks(checked)["credentials"]
    assert credentials["status"] == "fail" and "AWS_ENDPOINT_URL" in credentials["fix"]


def test_a_missing_repository_and_base_image(repo, shipyard, sandbox_env, ecr_client) -> None:
    (repo.project / "shipyard.toml").write_text(
        '[build.args]\nBASE_IMAGE = "${registry}/t/no-such-base:12"\n')
    before = repositories(ecr_client)
    checked = shipyard(repo, "doctor", "--json")
    assert checked.code == DIAGNOSIS
    checks = aws_checks(checked)
    assert checks["repository"]["status"] == "fail"
    assert "does not exist" in checks["repository"]["detail"]
    assert "shipyard push creates it" in checks["repository"]["fix"]
    assert checks["registry login"]["status"] == "ok"  # the login is checked all the same
    base = checks["base image"]
    assert base["status"] == "fail" and "t/no-such-base:12 is not in the registry" in \
        base["detail"], base
    assert repositories(ecr_client) == before  # doctor does not create it


def test_a_registry_that_refuses_the_token(repo, shipyard, sandbox_env, ecr_client,
                                           oci_layout_factory, auth_registry_server,
                                           monkeypatch) -> None:
    assert shipyard(repo, "push", "--from-oci", str(oci_layout_factory())).code == 0
    # a registry with its own users: ECR's token is not one of them
    monkeypatch.setenv("SHIPYARD_REGISTRY", auth_registry_server.host)
    checked = shipyard(repo, "doctor", "--json")
    assert checked.code == DIAGNOSIS
    login = aws_checks(checked)["registry login"]
    assert login["status"] == "fail", login
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    assert password not in checked.out + checked.err  # the token is a secret on every path
