"""Endpoints that are wrong but answer: one line and the fix (exit 2 or 9), never a crash."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.integration


# What a server that is not AWS answers every request with: (content type, body).
ANSWERS = {
    "html": ("text/html", b"<!DOCTYPE html><html><body>It works!</body></html>"),
    "json": ("application/json", b'{"ok": true}'),
    "empty-json": ("application/json", b"{}"),
}


class _Page(http.server.BaseHTTPRequestHandler):
    """Any web server or JSON API: every request gets a 200 of the server's kind."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type, body = ANSWERS[self.server.kind]  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=list(ANSWERS))
def web_server(request) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    server.kind = request.param  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("account", ["123456789012", ""], ids=["ecr-first", "sts-first"])
def test_an_aws_endpoint_that_is_not_aws(repo, shipyard, sandbox_env, web_server, account,
                                         ecr_client, single_image_layout) -> None:
    env = {"AWS_ENDPOINT_URL": web_server, "AWS_ACCOUNT_ID": account}
    for command in (["login"], ["push", "--from-oci", str(single_image_layout)]):
        result = shipyard(repo, *command, env=env)
        assert result.code == 9, result.err
        assert result.err.count("\n") == 1 and "unexpected" not in result.err
        assert f"{web_server} answered, but not as AWS does; check AWS_ENDPOINT_URL" \
            in result.err
    names = [r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"]]
    assert sandbox_env["ECR_REPOSITORY"] not in names  # push created nothing


@pytest.mark.parametrize("host", ["127.0.0.1:abc", "127.0.0.1:99999", "localhost:", "[::1]:x"])
def test_a_registry_host_whose_port_is_not_a_number(repo, shipyard, sandbox_env, ecr_client,
                                                    single_image_layout, host) -> None:
    for command in (["login"], ["push", "--from-oci", str(single_image_layout)]):
        result = shipyard(repo, *command, env={"SHIPYARD_REGISTRY": host})
        assert result.code == 2, result.err
        assert result.err.startswith("error: SHIPYARD_REGISTRY: port ")
        assert result.err.count("\n") == 1
    names = [r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"]]
    assert sandbox_env["ECR_REPOSITORY"] not in names  # push created nothing
