"""A thin proxy in front of the distribution registry that adds ECR's rules.

The registry accepts a push to any repository and lets every tag move. ECR does not:
- a push to a repository that was not created answers 404 `NAME_UNKNOWN`;
- a tag in an immutable repository (minus its exclusion filters) cannot be moved to another
  image: the manifest PUT answers 400 `TAG_INVALID`; checking and writing happen under one lock
  per repository, so of two racing pushes exactly one wins;
- manifests are deleted with `BatchDeleteImage`, not with the registry API (405 `UNSUPPORTED`);
- a cross-repository mount (`POST .../blobs/uploads/?mount=&from=`) happens only when ECR
  would allow it (account setting BLOB_MOUNTING ENABLED, same encryption); otherwise the
  parameters are dropped and the registry opens a plain upload session (202 + Location), the
  distribution spec's answer of a registry that does not mount.
Every accepted manifest is recorded in moto through the bridge. Everything else, blobs
included, streams through unchanged, so the client sees the real registry's protocol.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from shipyard_sandbox.ecr_bridge import EcrBridge

MANIFEST_PATH = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$")
UPLOAD_PATH = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?$")
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the distribution spec's recommended manifest limit
CHUNK = 1024 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}
ACCEPT_MANIFESTS = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))


class FrontServer(ThreadingHTTPServer):
    """The proxy: `upstream` is the registry's host:port, `auth_header` our own credentials."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], upstream: str, bridge: EcrBridge,
                 auth_header: str) -> None:
        super().__init__(address, FrontHandler)
        self.upstream = upstream
        self.bridge = bridge
        self.auth_header = auth_header
        self._repo_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def repo_lock(self, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._repo_locks.setdefault(name, threading.Lock())

    def upstream_digest(self, name: str, reference: str) -> str | None:
        """What a tag points at now, asked of the registry with the sandbox's own login."""
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            conn.request("HEAD", f"/v2/{name}/manifests/{reference}",
                         headers={"Authorization": self.auth_header, "Accept": ACCEPT_MANIFESTS})
            response = conn.getresponse()
            response.read()
            return response.getheader("Docker-Content-Digest") if response.status == 200 else None
        finally:
            conn.close()


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FrontServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the sandbox's log is the registry's."""

    def do_GET(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def do_PATCH(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        match = UPLOAD_PATH.match(urlsplit(self.path).path)
        if match and self._authenticated():
            if not self._repository_exists(match["name"]):
                return
            self._drop_refused_mount(match["name"])
        self._forward()

    def do_PUT(self) -> None:
        match = MANIFEST_PATH.match(urlsplit(self.path).path)
        if match is None or not self._authenticated():
            self._forward()
            return
        self._put_manifest(match["name"], match["reference"])

    def do_DELETE(self) -> None:
        if MANIFEST_PATH.match(urlsplit(self.path).path):
            self._drain_body()
            self._error(405, "UNSUPPORTED",
                        "ECR deletes images with BatchDeleteImage, not the registry API")
            return
        self._forward()

    # --- ECR rules ------------------------------------------------------------------------

    def _authenticated(self) -> bool:
        # Without credentials, let the registry answer 401 as ECR would, before any other rule.
        return bool(self.headers.get("Authorization"))

    def _repository_exists(self, name: str) -> bool:
        if self.server.bridge.repository(name) is not None:
            return True
        self._drain_body()
        bridge = self.server.bridge
        self._error(404, "NAME_UNKNOWN",
                    f"The repository with name '{name}' does not exist in the registry with id "
                    f"'{bridge.account_id}'")
        return False

    def _drop_refused_mount(self, name: str) -> None:
        # docker-registry mounts whenever it can; ECR only with BLOB_MOUNTING on and the same
        # encryption. Rewriting the path before forwarding makes the registry itself answer a
        # refused mount with a real upload session, as ECR does.
        url = urlsplit(self.path)
        query = parse_qsl(url.query, keep_blank_values=True)
        params = dict(query)
        if "mount" not in params:
            return
        source = params.get("from")
        if source and self.server.bridge.mount_allowed(name, source):
            return
        plain = [(k, v) for k, v in query if k not in ("mount", "from")]
        self.path = url.path + (f"?{urlencode(plain)}" if plain else "")

    def _put_manifest(self, name: str, reference: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_MANIFEST_BYTES:
            self._drain_body()
            self._error(400, "MANIFEST_INVALID", "manifest too large")
            return
        body = self.rfile.read(length)
        if not self._repository_exists(name):
            return
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        bridge = self.server.bridge
        is_tag = not reference.startswith("sha256:")
        with self.server.repo_lock(name):
            if is_tag and bridge.tag_is_immutable(name, reference):
                current = self.server.upstream_digest(name, reference)
                # ECR refuses any PUT to an immutable tag that exists, even of the very image
                # it holds (what a client must not read as another image's tag)
                if current is not None:
                    self._error(400, "TAG_INVALID",
                                f"The image tag '{reference}' already exists in the '{name}' "
                                "repository and cannot be overwritten because the tag is "
                                "immutable.")
                    return
            status = self._forward(body=body)
            if status == 201:
                media_type = self.headers.get("Content-Type") or json.loads(body).get(
                    "mediaType", "")
                bridge.record_push(name, reference, body, media_type, digest)

    # --- plumbing -------------------------------------------------------------------------

    def _error(self, status: int, code: str, message: str) -> None:
        payload = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _drain_body(self) -> None:
        for _ in self._request_body():
            pass

    def _request_body(self) -> Iterator[bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

    def _forward(self, body: bytes | None = None) -> int:
        """Send the request to the registry and stream its answer back; returns the status."""
        # Header by header: clients send several Accept headers, and a dict would keep one.
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        chunked = body is None and self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        conn = http.client.HTTPConnection(self.server.upstream, timeout=300)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in headers:
                conn.putheader(key, value)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            if body is not None:
                conn.send(body)
            elif chunked:
                for chunk in self._request_body():
                    conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                conn.send(b"0\r\n\r\n")
            elif self.headers.get("Content-Length"):
                for chunk in self._request_body():
                    conn.send(chunk)
            response = conn.getresponse()
            self._relay(response, head=self.command == "HEAD")
            return response.status
        finally:
            conn.close()

    def _relay(self, response: http.client.HTTPResponse, head: bool) -> None:
        self.send_response(response.status, response.reason)
        length = response.getheader("Content-Length")
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        chunked_out = length is None and not head and response.status not in (204, 304)
        if chunked_out:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head:
            return
        write: Callable[[bytes], object] = self.wfile.write
        while chunk := response.read(CHUNK):
            write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked_out else chunk)
        if chunked_out:
            write(b"0\r\n\r\n")
