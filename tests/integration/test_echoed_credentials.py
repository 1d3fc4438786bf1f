"""A registry, proxy or WAF that echoes the request's credentials: none of it is printed.

The server below answers every request with an error (or a broken status line) whose body
and headers repeat the Authorization header and the password decoded from it. The CLI runs
against it with the sandbox's ECR token, on every error path a registry answer can take
(refusals, retried statuses, raw protocol errors), quiet and with --verbose.
"""

from __future__ import annotations

import base64
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.call_log import disable_verbose

pytestmark = pytest.mark.integration

STATUSES = (400, 401, 403, 408, 429, 500, 503)


class _Echo(socketserver.BaseRequestHandler):
    """Reads one request, answers with the credentials it carried, closes the connection."""

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        authorization = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                              if line.lower().startswith("authorization:")), "none")
        try:
            password = base64.b64decode(authorization.split()[-1]).decode().split(":", 1)[1]
        except (ValueError, IndexError):
            password = "none"
        echo = f"you sent Authorization: {authorization} ({authorization}) password {password}"
        server: EchoServer = self.server  # type: ignore[assignment]
        if server.malformed_first and not server.answered:
            server.answered = True
            self.request.sendall(f"HTTP/1.1 abc {authorization} {password}\r\n\r\n".encode())
            return
        body = json.dumps({"errors": [{"code": "DENIED", "message": echo}],
                           "detail": {"auth": authorization, "pw": password}}).encode()
        self.request.sendall(
            f"HTTP/1.1 {server.status} Echo {password}\r\nContent-Type: application/json\r\n"
            f"Retry-After: 0\r\nWWW-Authenticate: Basic realm=\"{password}\"\r\n"
            f"X-Echo: {authorization}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode() + body)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, status: int, malformed_first: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.status, self.malformed_first, self.answered = status, malformed_first, False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


@pytest.fixture(autouse=True)
def _verbose_off() -> Iterator[None]:
    yield
    disable_verbose()


def _serve(status: int, malformed_first: bool = False) -> EchoServer:
    server = EchoServer(status, malformed_first)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _password(ecr_client) -> str:
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().split(":", 1)[1]


def assert_no_credential(text: str, password: str) -> None:
    basic = base64.b64encode(f"AWS:{password}".encode()).decode()
    forms = {password, basic, basic.rstrip("="), basic[4:20], f"Basic {basic}"}
    assert [form for form in forms if form in text] == [], text


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
@pytest.mark.parametrize("status", STATUSES)
def test_login_never_prints_echoed_credentials(repo, shipyard, sandbox_env, ecr_client,
                                               status, verbose) -> None:
    server = _serve(status)
    try:
        flags = ["--verbose"] if verbose else []
        result = shipyard(repo, *flags, "login", env={"SHIPYARD_REGISTRY": server.host})
    finally:
        server.shutdown()
    assert result.code != 0
    assert result.err.count("error: ") == 1, result.err
    assert_no_credential(result.out + result.err, _password(ecr_client))


@pytest.mark.parametrize("as_json", [False, True], ids=["lines", "json"])
@pytest.mark.parametrize("status", [400, 503])
def test_push_retry_lines_and_errors_never_print_echoed_credentials(
        repo, shipyard, sandbox_env, ecr_client, single_image_layout: Path, status,
        as_json) -> None:
    # the first answer is a broken status line holding the credentials (a raw protocol
    # error, retried), then the echoing error answers
    server = _serve(status, malformed_first=True)
    try:
        flags = ["--json"] if as_json else []
        result = shipyard(repo, "--verbose", "push", "--from-oci", str(single_image_layout),
                          *flags, env={"SHIPYARD_REGISTRY": server.host})
    finally:
        server.shutdown()
    assert result.code != 0
    if not as_json:
        assert "retrying " in result.err  # the retry lines were printed, and masked
    assert_no_credential(result.out + result.err, _password(ecr_client))
