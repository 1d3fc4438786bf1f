"""`shipyard --verbose` against the sandbox: every call shown, no secret at any log level.

Each test runs the CLI in-process with distinctive AWS credentials (moto accepts any) and,
where it says so, with botocore's, urllib3's and httpx's loggers forced to DEBUG: those
log signed headers, canonical requests and ECR's response body, so they are the hard case.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from shipyard.call_log import disable_verbose

pytestmark = pytest.mark.integration

SECRET_KEY = "wJalr" + secrets.token_urlsafe(30)
SESSION_TOKEN = "IQoJ" + secrets.token_urlsafe(60)
AWS_SECRETS = {"AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_SESSION_TOKEN": SESSION_TOKEN}
# An Authorization header whose value is not masked, in any of the ways one gets printed.
UNMASKED_AUTHORIZATION = re.compile(
    r"authorization['\"]?\s*[:=]\s*b?['\"]?(?:basic|bearer|aws4-hmac-sha256)\s+(?!\*\*\*)",
    re.IGNORECASE)


@pytest.fixture(autouse=True)
def _verbose_off() -> Iterator[None]:
    """--verbose configures process-wide logging; a test leaves it as it found it."""
    yield
    disable_verbose()


def ecr_password(ecr_client) -> str:
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().split(":", 1)[1]


def assert_no_secret(text: str, *passwords: str) -> None:
    """None of the secrets, in the forms a log could hold them, is in `text`."""
    forms = {SECRET_KEY, SESSION_TOKEN, quote(SESSION_TOKEN, safe="")}
    for password in passwords:
        basic = base64.b64encode(f"AWS:{password}".encode()).decode()
        forms |= {password, quote(password, safe=""), basic, basic.rstrip("=")}
    found = [form for form in forms if form in text]
    assert found == [], "secrets in the output"
    assert UNMASKED_AUTHORIZATION.search(text) is None, "an Authorization value in the output"


def calls(text: str, prefix: str) -> list[str]:
    """The verbose call lines starting with `prefix`, timings replaced by T."""
    return [re.sub(r" \d+ms", " T", line) for line in text.splitlines()
            if line.startswith(prefix)]


def test_verbose_push_shows_each_call_and_no_secret_even_at_debug(
        repo, shipyard, sandbox_env, ecr_client, single_image_layout, loud_libraries,
        caplog) -> None:
    password = ecr_password(ecr_client)
    caplog.clear()  # the test's own boto3 client logged that token; Shipyard's run is next
    result = shipyard(repo, "--verbose", "push", "--from-oci", str(single_image_layout),
                      "--json", env=AWS_SECRETS)
    assert result.code == 0, result.err
    data = json.loads(result.out)  # stdout is the JSON alone: the calls went to stderr
    aws_endpoint, registry = sandbox_env["AWS_ENDPOINT_URL"], sandbox_env["SHIPYARD_REGISTRY"]
    base = f"http://{registry}/v2/{sandbox_env['ECR_REPOSITORY']}"
    assert f"aws ecr.GetAuthorizationToken 200 T (POST {aws_endpoint}/)" in calls(result.err,
                                                                                 "aws ")
    registry_calls = calls(result.err, "registry ")
    assert f"registry PUT {base}/manifests/{data['version']} 201 T" in registry_calls
    assert f"registry PUT {base}/manifests/latest 201 T" in registry_calls
    # an upload's URL carries distribution's signed state: shown masked, the digest kept
    assert [c for c in registry_calls if "/blobs/uploads/" in c and "_state=***&digest=sha256:"
            in c and c.endswith(" 201 T")] != []
    # the libraries really logged at DEBUG (signed requests, the token in ECR's answer)...
    for line in ("botocore.auth CanonicalRequest", "botocore.parsers Response body",
                 "httpx HTTP Request: PUT"):
        assert line in result.err
    # ...and neither our stderr nor pytest's own log capture holds a secret
    assert_no_secret(result.out + result.err, password)
    assert "botocore.endpoint" in caplog.text
    assert_no_secret(caplog.text, password)


def test_verbose_login_shows_the_token_call_and_the_auth_exchange(
        repo, shipyard, sandbox_env, ecr_client, loud_libraries) -> None:
    result = shipyard(repo, "--verbose", "login", env=AWS_SECRETS)
    assert result.code == 0, result.err
    assert result.out == f"login succeeded for {sandbox_env['SHIPYARD_REGISTRY']}\n"
    v2 = f"http://{sandbox_env['SHIPYARD_REGISTRY']}/v2/"
    # ECR takes Basic auth, so the ECR password goes with the first request: no 401 first
    assert calls(result.err, "registry ") == [f"registry GET {v2} 200 T"]
    assert [c for c in calls(result.err, "aws ") if c.startswith(
        "aws ecr.GetAuthorizationToken 200 T (POST ")] != []
    assert_no_secret(result.out + result.err, ecr_password(ecr_client))


def test_shipyard_verbose_variable_and_nothing_new_without_it(repo, shipyard,
                                                              sandbox_env) -> None:
    quiet = shipyard(repo, "login")
    assert quiet.code == 0 and quiet.err == ""
    loud = shipyard(repo, "login", env={"SHIPYARD_VERBOSE": "1"})
    assert loud.code == 0 and loud.out == quiet.out
    assert [c for c in calls(loud.err, "aws ") if "ecr.GetAuthorizationToken 200" in c] != []


def test_a_registry_refusal_is_logged_without_the_password(
        repo, shipyard, sandbox_env, ecr_client, auth_registry_server,
        loud_libraries) -> None:
    # ECR's token is sent to a registry that has another password: a real 401
    host = auth_registry_server.host
    result = shipyard(repo, "--verbose", "login", env={**AWS_SECRETS, "SHIPYARD_REGISTRY": host})
    assert result.code == 8, result.err
    assert f"error: registry {host} refused the credentials" in result.err
    # one request, with the credentials: refused, and not sent again
    assert calls(result.err, "registry ") == [f"registry GET http://{host}/v2/ 401 T"]
    assert_no_secret(result.out + result.err, ecr_password(ecr_client),
                     auth_registry_server.password or "")


def test_a_refused_aws_call_is_logged_without_credentials(
        repo, shipyard, sandbox_env, ecr_client, loud_libraries) -> None:
    # the repository does not exist: ECR answers 400 RepositoryNotFoundException
    result = shipyard(repo, "--verbose", "scan", "1.0.0", env=AWS_SECRETS)
    assert result.code != 0 and "RepositoryNotFoundException" in result.err
    assert [c for c in calls(result.err, "aws ") if c.startswith(
        "aws ecr.DescribeImages 400 T")] != []
    assert "botocore.parsers Response body" in result.err
    assert_no_secret(result.out + result.err, ecr_password(ecr_client))


def test_an_unreachable_aws_endpoint_is_logged_per_attempt_without_credentials(
        repo, shipyard, sandbox_env, loud_libraries) -> None:
    result = shipyard(repo, "--verbose", "login",
                      env={**AWS_SECRETS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert result.code == 9
    attempts = calls(result.err, "aws sts.GetCallerIdentity EndpointConnectionError")
    assert attempts[0] == ("aws sts.GetCallerIdentity EndpointConnectionError T "
                           "(POST http://127.0.0.1:9/)")
    assert len(attempts) > 1 and attempts[1].endswith(", attempt 2)")
    assert "Traceback" in result.err  # botocore logs the failure with its traceback
    assert_no_secret(result.out + result.err)
