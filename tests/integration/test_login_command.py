"""`shipyard login` against the sandbox: the token works and is never shown."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_login_checks_the_token_and_never_prints_it(repo, shipyard, sandbox_env,
                                                    ecr_client) -> None:
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    result = shipyard(repo, "login")
    assert result.code == 0, result.err
    assert result.out == f"login succeeded for {sandbox_env['SHIPYARD_REGISTRY']}\n"
    assert password not in result.out + result.err and token not in result.out + result.err


def test_docker_config_only_when_asked_and_usable_by_skopeo(
        repo, shipyard, sandbox_env, ecr_client, tmp_path: Path) -> None:
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {"other.example": {"auth": "eDp5"}}}))
    result = shipyard(repo, "login", "--docker-config", str(config))
    assert result.code == 0, result.err
    data = json.loads(config.read_text())
    assert set(data["auths"]) == {"other.example", sandbox_env["SHIPYARD_REGISTRY"]}
    assert config.stat().st_mode & 0o777 == 0o600
    ecr_client.create_repository(repositoryName=sandbox_env["ECR_REPOSITORY"])
    # skopeo, an independent client, logs in with the file we wrote
    listed = subprocess.run(
        ["skopeo", "list-tags", "--tls-verify=false", "--authfile", str(config),
         f"docker://{sandbox_env['SHIPYARD_REGISTRY']}/{sandbox_env['ECR_REPOSITORY']}"],
        capture_output=True, text=True, check=False)
    assert "unauthorized" not in listed.stderr.lower(), listed.stderr


def test_a_docker_config_that_is_not_one_is_refused_and_kept(repo, shipyard, sandbox_env,
                                                             tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("[]")
    result = shipyard(repo, "login", "--docker-config", str(config))
    assert result.code == 2 and "is not a docker config" in result.err
    assert config.read_text() == "[]"


def test_login_without_a_sandbox_names_the_endpoint(repo, shipyard, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    result = shipyard(repo, "login")
    assert result.code == 9
    assert "cannot reach http://127.0.0.1:9" in result.err and "is the sandbox up?" in result.err
