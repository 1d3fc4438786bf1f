"""The masking of secrets: every encoding of a registered one, and the shapes of unknown ones."""

from __future__ import annotations

import base64
import io
import json
import logging
import traceback
from urllib.parse import quote, quote_plus

import pytest

from shipyard.redaction import (
    MASK,
    RedactingFilter,
    SecretRegistry,
    redact,
    redact_shapes,
    safe_url,
)

# Characters that URL-encoding, JSON and base64 each treat specially.
SECRET = 'pa$$w0rd/with+odd&chars"q\\'
TOKEN = "kT9xQm2vLp8RwZ4nB7cYdJ3h"  # shaped like ECR's password: base64-alphabet only
HEX_DIGEST = "sha256:" + "ab12" * 16


@pytest.fixture
def secrets() -> SecretRegistry:
    registry = SecretRegistry()
    registry.register(SECRET)
    registry.register(TOKEN)
    return registry


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("form", [
    SECRET,                                          # raw
    quote(SECRET, safe=""),                          # URL-encoded
    quote(SECRET, safe="").lower(),                  # URL-encoded, lowercase hex
    quote_plus(SECRET),                              # form-encoded
    json.dumps(SECRET)[1:-1],                        # JSON string contents
    json.dumps(SECRET)[1:-1].replace("/", "\\/"),    # JSON with `\/`, as some encoders write
    repr(SECRET)[1:-1],                              # a Python repr
    repr(SECRET.encode())[2:-1],                     # a bytes repr, as botocore logs headers
    b64(SECRET),                                     # base64 of the secret alone
    TOKEN,                                           # the other secret, raw
])
def test_a_registered_secret_is_masked_in_every_text_encoding(secrets, form) -> None:
    assert secrets.redact(f"before {form} after") == f"before {MASK} after"


# base64 of `user:password` puts the password at any of 3 alignments; the user is unknown.
@pytest.mark.parametrize("user", ["", "A", "AW", "AWS", "user12", "a-much-longer-username"])
@pytest.mark.parametrize("secret", [SECRET, TOKEN])
@pytest.mark.parametrize("suffix", ["", "\n", ":more"])  # what follows changes the last chars
def test_base64_of_user_and_password_is_masked_whole_at_every_alignment(
        secrets, user, secret, suffix) -> None:
    encoded = b64(f"{user}:{secret}{suffix}")
    urlsafe = encoded.translate(str.maketrans("+/", "-_")).rstrip("=")
    assert secrets.redact(f"auth {encoded} end") == f"auth {MASK} end"
    assert secrets.redact(f"Basic {urlsafe}.") == f"Basic {MASK}."
    # in a query string, URL-encoded, next to other parameters that must survive
    assert secrets.redact(f"?a=1&x={quote(encoded, safe='')}&b=2") == f"?a=1&x={MASK}&b=2"
    # in a docker config.json, JSON-escaped
    config = json.dumps({"auths": {"r": {"auth": encoded}}}).replace("/", "\\/")
    assert encoded.replace("/", "\\/") not in secrets.redact(config)
    assert secrets.redact(config) == config.replace(encoded.replace("/", "\\/"), MASK)


@pytest.mark.parametrize("text", [
    f"registry HEAD http://127.0.0.1:5000/v2/t/app/blobs/{HEX_DIGEST} 200 1ms",
    "aws ecr.GetAuthorizationToken 200 10ms (POST http://127.0.0.1:4566/)",
    "commit 3f2a9c1e5d7b9a0c2e4f6a8b0c1d3e5f7a9b1c2d, tag 1.1.0, sha-3f2a9c1",
])
def test_ordinary_lines_are_left_alone(secrets, text) -> None:
    assert redact(text, secrets) == text


def test_short_values_are_not_registered_so_words_survive() -> None:
    registry = SecretRegistry()
    for value in ("x", "abc", "12345", "sandbox", "", None):
        registry.register(value)
    assert registry.redact("x abc 12345 sandbox stays") == "x abc 12345 sandbox stays"


@pytest.mark.parametrize(("text", "expected"), [
    # an HTTP header line, and a Bearer token on its own
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic ***"),
    ("sent Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "sent Bearer ***"),
    # botocore's request repr: bytes values, a SigV4 header whose commas are not the end
    ("{'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAX/20260304/ap-northeast-2/ecr/"
     "aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd', 'X': b'y'}",
     "{'Authorization': b'AWS4-HMAC-SHA256 ***', 'X': b'y'}"),
    ('{"authorization": "Bearer abc"}', '{"authorization": "Bearer ***"}'),  # JSON
    ("Proxy-Authorization: Basic abc", "Proxy-Authorization: Basic ***"),
    # a Basic value is one word: the retry note after it stays readable
    ("you sent Authorization: Basic QVdTOnBhc3M= (retry 2 in 0.5s)",
     "you sent Authorization: Basic *** (retry 2 in 0.5s)"),
    # no scheme, so no telling where the value ends: the rest of the line goes
    ("Authorization: s3cr3t and more", "Authorization: ***"),
    # the session token: as a header, and as botocore's canonical request line
    ("{'X-Amz-Security-Token': b'IQoJb3JpZ2luX2Vj'}", "{'X-Amz-Security-Token': b'***'}"),
    ("x-amz-security-token:IQoJb3Jp\nx-amz-target:Foo",
     "x-amz-security-token:***\nx-amz-target:Foo"),
    # a presigned S3 URL (ECR's layer redirect): the algorithm stays, credentials go
    ("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2026"
     "&X-Amz-Signature=abc123&X-Amz-Security-Token=IQo%2Bx&x-id=GetObject",
     "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***"
     "&X-Amz-Signature=***&X-Amz-Security-Token=***&x-id=GetObject"),
    ("Signature:\n24a651b3cdae", "Signature:\n***"),  # botocore.auth's DEBUG line
    ("password=hunter22&user=bob", "password=***&user=bob"),
    ("token=abc.def; path=/", "token=***; path=/"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key = ***"),
    # ECR's answer in botocore's response-body log, before Shipyard has decoded the token
    ('b\'{"authorizationData": [{"authorizationToken": "QVdTOnNlY3JldA==", "expiresAt": 1}]}\'',
     'b\'{"authorizationData": [{"authorizationToken": "***", "expiresAt": 1}]}\''),
    # STS's XML answer, and its parsed form
    ("<SecretAccessKey>wJalr/K7</SecretAccessKey><SessionToken>IQo</SessionToken>"
     "<AccessKeyId>ASIA1</AccessKeyId>",
     "<SecretAccessKey>***</SecretAccessKey><SessionToken>***</SessionToken>"
     "<AccessKeyId>ASIA1</AccessKeyId>"),
    ("{'AccessKeyId': 'ASIA1', 'SecretAccessKey': 'a/b', 'SessionToken': 'IQo'}",
     "{'AccessKeyId': 'ASIA1', 'SecretAccessKey': '***', 'SessionToken': '***'}"),
    # a decrypted SSM SecureString, and Secrets Manager's value (JSON inside JSON)
    ('{"Parameter": {"Type": "SecureString", "Value": "hunter2"}}',
     '{"Parameter": {"Type": "SecureString", "Value": "***"}}'),
    ('{"SecretString": "{\\"pw\\": \\"x\\"}"}', '{"SecretString": "***"}'),
    # ...and as botocore logs the answer: a bytes repr, where JSON's \" is \\"
    ('b\'{"SecretString": "{\\\\"url\\\\": \\\\"https://h.example/T/B/x\\\\"}", "Name": "n"}\'',
     'b\'{"SecretString": "***", "Name": "n"}\''),
    ("https://bob:hunter22@registry.example/v2/", "https://***@registry.example/v2/"),
])
def test_secret_shapes_are_masked_without_registration(text, expected) -> None:
    assert redact_shapes(text) == expected


@pytest.mark.parametrize("text", [
    'Www-Authenticate: Basic realm="shipyard-sandbox"',     # a challenge holds no secret
    "content-type;host;x-amz-date;x-amz-security-token",    # SigV4's signed-header list
    "token request to 127.0.0.1:5000 failed (ConnectError); retry 1 in 0.50s",
    '{"Parameter": {"Type": "String", "Value": "fs-12345678"}}',  # a plain parameter
    "{'AccessKeyId': 'ASIA1', 'Expiration': '2026-03-04'}",
])
def test_lookalikes_of_secret_shapes_stay(text) -> None:
    assert redact_shapes(text) == text


def _logger(secrets: SecretRegistry) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(secrets))
    logger = logging.getLogger(f"test.redaction.{id(stream)}")
    logger.propagate = False
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_the_filter_masks_arguments_tracebacks_and_stacks(secrets) -> None:
    logger, stream = _logger(secrets)
    logger.debug("headers %r, user %s", {"Authorization": f"Basic {b64('AWS:' + TOKEN)}"},
                 f"AWS:{TOKEN}")
    try:
        raise RuntimeError(f"the registry echoed {quote(SECRET, safe='')}")
    except RuntimeError:
        logger.exception("call failed")
    logger.debug("where", stack_info=True, extra={})
    logger.debug("bad format %s %s", SECRET)  # a broken call still must not leak
    text = stream.getvalue()
    for leak in (TOKEN, b64("AWS:" + TOKEN), SECRET, quote(SECRET, safe="")):
        assert leak not in text
    assert "headers {'Authorization': 'Basic ***'}, user AWS:***" in text
    assert "RuntimeError: the registry echoed ***" in text  # the traceback is still shown
    assert "Stack (most recent call last)" in text


def test_the_filter_reads_a_traceback_formatted_before_it(secrets) -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
    record.exc_text = "".join(traceback.format_exception(ValueError(f"token {TOKEN}")))
    assert RedactingFilter(secrets).filter(record) is True
    assert TOKEN not in record.exc_text and MASK in record.exc_text


@pytest.mark.parametrize(("url", "params", "expected"), [
    # distribution's signed upload state is masked; the digest stays
    ("http://127.0.0.1:5000/v2/a/blobs/uploads/1?_state=abc&digest=sha256:1", None,
     "http://127.0.0.1:5000/v2/a/blobs/uploads/1?_state=***&digest=sha256:1"),
    ("https://u:p@r.example/v2/", None, "https://r.example/v2/"),  # user-info dropped
    ("https://auth.example/token", [("service", "r"), ("scope", "repository:a:pull,push")],
     "https://auth.example/token?service=r&scope=repository:a:pull,push"),
    ("https://r.example/v2/a/blobs/uploads/?mount=sha256:1&from=b", None,
     "https://r.example/v2/a/blobs/uploads/?mount=sha256:1&from=b"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Credential=AKIA", None,
     "https://b.s3.amazonaws.com/k?X-Amz-Signature=***&X-Amz-Credential=***"),
])
def test_safe_url(url, params, expected) -> None:
    assert safe_url(url, params) == expected


def test_redact_output_masks_credentials_but_keeps_messages_readable() -> None:
    from shipyard.redaction import redact_output

    secrets = SecretRegistry()
    secrets.register("pw-4f9a2c81d7e6")
    basic = base64.b64encode(b"AWS:pw-4f9a2c81d7e6").decode()
    echoed = f"503 DENIED: you sent {basic} (pw-4f9a2c81d7e6), Bearer abcdefghijklmnopqrstu"
    shown = redact_output(echoed, secrets)
    assert "pw-4f9a2c81d7e6" not in shown and basic[4:20] not in shown
    assert "abcdefghijklmnop" not in shown
    # a message that merely looks like `key: value` stays as written
    message = "ecr:GetAuthorizationToken: cannot reach http://127.0.0.1:9/; check the network"
    assert redact_output(message, secrets) == message
