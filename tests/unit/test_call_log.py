"""`--verbose` logging: the call lines, where they go, and that every handler masks.

The registry client runs against httpx.MockTransport and a boto3 client against a
`before-send` handler that answers instead of the network (botocore's own seam).
"""

from __future__ import annotations

import base64
import io
import logging
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from shipyard import call_log
from shipyard.adapters.aws import Aws
from shipyard.adapters.registry import RegistryClient
from shipyard.errors import RegistryError

PASSWORD = "Zq8wRt5yUi3oPa1sDf7gHj2k"
SECRET_KEY = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY01"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ"
LIBRARIES = ("botocore", "urllib3", "httpx", "httpcore")
CALL_MS = r"\d+ms"


@pytest.fixture
def verbose() -> Iterator[io.StringIO]:
    """Verbose on, into a string; the libraries' loggers at DEBUG too; all undone after."""
    stream = io.StringIO()
    levels = {name: logging.getLogger(name).level for name in LIBRARIES}
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG)
    call_log.enable_verbose(stream)
    yield stream
    call_log.disable_verbose()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_registry_calls_retries_and_auth_are_logged_without_the_password(verbose) -> None:
    answers = iter([httpx.Response(503),
                    httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})])

    def registry(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") == _basic("AWS", PASSWORD):
            return httpx.Response(200)
        return next(answers)

    with RegistryClient("registry.example.com", auth=("AWS", PASSWORD), sleep=lambda _: None,
                        transport=httpx.MockTransport(registry)) as client:
        client.check_auth()
    text = verbose.getvalue()
    url = "https://registry.example.com/v2/"
    lines = [line for line in text.splitlines() if line.startswith("registry ")]
    assert [re.sub(CALL_MS, "T", line) for line in lines] == [
        f"registry GET {url} 503 T",
        "registry GET /v2/ failed (503 Service Unavailable); retry 1 in "
        + lines[1].rsplit(" in ", 1)[1],
        f"registry GET {url} 401 T",
        f"registry GET {url} 200 T",
    ]
    assert f"httpx HTTP Request: GET {url}" in text  # httpx's own DEBUG/INFO lines pass too
    for leak in (PASSWORD, _basic("AWS", PASSWORD)[6:]):
        assert leak not in text


def test_a_request_that_gets_no_answer_is_logged_by_its_exception(verbose) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (RegistryClient("registry.example.com", max_retries=1, sleep=lambda _: None,
                         transport=httpx.MockTransport(refuse)) as client,
          pytest.raises(RegistryError)):
        client.check_auth()
    assert re.findall(rf"registry GET \S+ ConnectError {CALL_MS}", verbose.getvalue()) != []


def _aws_answers(client, answers: list[tuple[int, bytes]]) -> list[dict]:
    """Answer the client's requests from `answers` (status, body); returns what was sent."""
    from botocore.awsrequest import AWSResponse

    sent: list[dict] = []

    class Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: object) -> Iterator[bytes]:
            yield self.body

    def answer(request, **_: object) -> AWSResponse:
        sent.append(dict(request.headers))
        status, body = answers.pop(0)
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, Raw(body))

    client.meta.events.register("before-send", answer)
    return sent


IDENTITY = (b"<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account>"
            b"</GetCallerIdentityResult></GetCallerIdentityResponse>")


def test_aws_calls_are_logged_per_attempt_and_credentials_are_masked(
        verbose, monkeypatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                        "AWS_SESSION_TOKEN": SESSION_TOKEN,
                        "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    call_log.enable_verbose(verbose)  # again, now that the environment holds the keys
    client = Aws("ap-northeast-2").client("sts")
    sent = _aws_answers(client, [(500, b"<ErrorResponse/>"), (200, IDENTITY)])
    assert client.get_caller_identity()["Account"] == "123456789012"
    text = verbose.getvalue()
    lines = [re.sub(CALL_MS, "T", line) for line in text.splitlines() if line.startswith("aws ")]
    assert lines == ["aws sts.GetCallerIdentity 500 T (POST http://127.0.0.1:9/)",
                     "aws sts.GetCallerIdentity 200 T (POST http://127.0.0.1:9/, attempt 2)"]
    assert "botocore.auth CanonicalRequest" in text  # botocore's DEBUG lines were there
    signed = sent[-1]["Authorization"].decode()
    for leak in (SECRET_KEY, SESSION_TOKEN, signed, signed.rsplit("Signature=", 1)[1]):
        assert leak not in text


def test_without_verbose_nothing_is_printed(capsys) -> None:
    with RegistryClient("registry.example.com",
                        transport=httpx.MockTransport(lambda r: httpx.Response(200))) as client:
        client.check_auth()
    assert capsys.readouterr() == ("", "")
    assert not call_log.REGISTRY_LOG.isEnabledFor(logging.DEBUG)


def test_handlers_already_there_get_the_mask_and_enabling_twice_adds_one(monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    theirs, on_botocore = io.StringIO(), io.StringIO()
    root_handler = logging.StreamHandler(theirs)
    botocore_handler = logging.StreamHandler(on_botocore)
    logging.getLogger().addHandler(root_handler)
    logging.getLogger("botocore").addHandler(botocore_handler)
    ours = io.StringIO()
    try:
        call_log.enable_verbose(io.StringIO())
        call_log.enable_verbose(ours)
        logging.getLogger("botocore.credentials").warning("found key %s", SECRET_KEY)
    finally:
        call_log.disable_verbose()
        logging.getLogger().removeHandler(root_handler)
        logging.getLogger("botocore").removeHandler(botocore_handler)
    assert theirs.getvalue() == on_botocore.getvalue() == "found key ***\n"
    assert ours.getvalue() == "botocore.credentials found key ***\n"  # once: one handler
    assert call_log.LOG.level == logging.NOTSET


def test_importing_the_module_does_not_import_botocore_or_httpx() -> None:
    code = ("import sys, shipyard.call_log; "
            "print(sorted({'boto3', 'botocore', 'httpx'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
