"""`main()` prints no credential a registry echoes: a fake registry (httpx.MockTransport)
repeats the request's Authorization header and the password in every error answer.

ECR is a fake here too (its login hands out the password); the same run against the sandbox's
ECR and a real echoing server is tests/integration/test_echoed_credentials.py.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from shipyard.adapters.credentials import RegistryLogin
from shipyard.adapters.registry import RegistryClient
from shipyard.cli import main
from shipyard.usecases.context import Context

PASSWORD = "eyJwYXlsb2FkIjoi-echoed-9f3c2a71b5"
BASIC = base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()


class _FakeEcr:
    def login(self, registry_id: str | None = None) -> RegistryLogin:
        return RegistryLogin("AWS", PASSWORD)


def _echoing(status: int, malformed: bool):
    def answer(request: httpx.Request) -> httpx.Response:
        sent = request.headers.get("Authorization", "")
        echo = f"you sent Authorization: {sent} and {sent.split()[-1:]} ({PASSWORD})"
        if malformed:  # a proxy's page, not a registry's JSON error body
            return httpx.Response(status, content=f"<html>{echo}</html>".encode(),
                                  headers={"Content-Type": "application/json", "X-Echo": sent})
        return httpx.Response(status, json={"errors": [{"code": "DENIED", "message": echo}]},
                              headers={"Retry-After": "0", "X-Echo": sent,
                                       "WWW-Authenticate": f'Basic realm="{PASSWORD}"'})
    return answer


@pytest.mark.parametrize("verbose", [[], ["--verbose"]], ids=["quiet", "verbose"])
@pytest.mark.parametrize(("status", "malformed"), [
    (400, False), (401, False), (403, False), (408, False), (429, False), (500, False),
    (503, False), (502, True), (403, True)])
def test_main_masks_credentials_a_registry_echoes(repo, capsys, monkeypatch, status, malformed,
                                                  verbose) -> None:
    from shipyard.call_log import disable_verbose

    transport = httpx.MockTransport(_echoing(status, malformed))
    monkeypatch.setattr(Context, "ecr", property(lambda self: _FakeEcr()))
    monkeypatch.setattr(Context, "registry", lambda self, host, **options: RegistryClient(
        host, transport=transport, sleep=lambda seconds: None, **options))
    monkeypatch.setenv("AWS_ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    monkeypatch.setenv("SHIPYARD_REGISTRY", "registry.example.com")
    try:
        for args in (["login"], ["login", "--json"]):
            code = main([*verbose, "-C", str(repo.project), *args])
            out, err = capsys.readouterr()
            assert code != 0 and "unexpected" not in err, err
            if "--json" in args:
                json.loads(err.splitlines()[-1])  # the error object is still JSON, masked
            for form in (PASSWORD, BASIC, BASIC.rstrip("="), BASIC[4:24], f"Basic {BASIC}"):
                assert form not in out + err, err
    finally:
        disable_verbose()


def test_main_masks_the_aws_secret_key_an_endpoint_echoes_without_verbose(
        repo, capsys, monkeypatch) -> None:
    from shipyard.errors import AwsError

    secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY-echoed-4c1d"

    class _EchoingEcr:
        def login(self, registry_id: str | None = None) -> RegistryLogin:
            raise AwsError(f"ecr:GetAuthorizationToken failed: the proxy says: key {secret_key} "
                           "is not allowed; check AWS_ENDPOINT_URL")

    monkeypatch.setattr(Context, "ecr", property(lambda self: _EchoingEcr()))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    monkeypatch.setenv("AWS_ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    code = main(["-C", str(repo.project), "login"])
    err = capsys.readouterr().err
    assert code == 9 and "the proxy says: key *** is not allowed" in err, err
    assert secret_key not in err
