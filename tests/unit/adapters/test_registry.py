"""The registry client against an in-memory fake registry behind httpx.MockTransport."""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import re
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shipyard.adapters.oci_layout import (
    BASE_NAME_ANNOTATION,
    BLOB_CHUNK_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    OciLayout,
    sha256_digest,
)
from shipyard.adapters.registry import (
    BasicAuth,
    BlobAdvanced,
    BlobDone,
    BlobNotMounted,
    BlobSkipped,
    BlobStarted,
    ManifestPushed,
    RegistryClient,
    RequestRetried,
    TagSet,
    TagSkipped,
    is_loopback_host,
)
from shipyard.errors import AuthError, ConflictError, RegistryError, UsageError

HOST = "registry.example.com"
REPO = "team/app"

# --- layouts -------------------------------------------------------------------------------


@pytest.fixture
def image(tmp_path: Path, build_layout) -> OciLayout:
    return OciLayout.open(build_layout(tmp_path / "image"))


@pytest.fixture
def multiarch(tmp_path: Path, build_layout) -> OciLayout:
    return OciLayout.open(build_layout(tmp_path / "multi", ("linux/amd64", "linux/arm64")))


# --- the fake registry -----------------------------------------------------------------------

_UPLOADS = re.compile(r"^/v2/(?P<repo>.+)/blobs/uploads/(?P<id>[^/]*)$")
_BLOB = re.compile(r"^/v2/(?P<repo>.+)/blobs/(?P<digest>sha256:[a-f0-9]{64})$")
_MANIFEST = re.compile(r"^/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<repo>.+)/tags/list$")
Hook = Callable[[httpx.Request], "httpx.Response | None"]


def _error(status: int, code: str, message: str = "", **headers: str) -> httpx.Response:
    body = {"errors": [{"code": code, "message": message}]}
    return httpx.Response(status, json=body, headers=headers)


class FakeRegistry:
    """Just enough of the distribution API, in memory, to push to and read from.

    `hooks` run first and may answer instead (faults, auth); `location` chooses how upload
    Locations look: absolute or relative, with or without a query of their own.
    """

    def __init__(self, location: str = "absolute") -> None:
        self.location = location
        self.blobs: dict[tuple[str, str], bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.tags: dict[tuple[str, str], str] = {}
        self.uploads: dict[str, str] = {}
        self.immutable = False
        self.mountable = True
        self.wrong_digest_for: set[str] = set()  # answer a wrong Docker-Content-Digest
        self.hooks: list[Hook] = []
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def requests(self, method: str | None = None) -> list[str]:
        return [path for m, path in self.log if method in (None, m)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.log.append((request.method, str(request.url.raw_path, "ascii")))
        for hook in self.hooks:
            answer = hook(request)
            if answer is not None:
                return answer
        path = request.url.path
        if path == "/v2/":
            return httpx.Response(200, json={})
        for pattern, handler in ((_UPLOADS, self._upload), (_BLOB, self._blob),
                                 (_MANIFEST, self._manifest), (_TAGS, self._tags)):
            match = pattern.match(path)
            if match:
                return handler(request, **match.groupdict())
        return _error(404, "NOT_FOUND")

    def _digest_header(self, digest: str) -> dict[str, str]:
        stored = "sha256:" + "f" * 64 if digest in self.wrong_digest_for else digest
        return {"Docker-Content-Digest": stored}

    def _upload(self, request: httpx.Request, repo: str, id: str) -> httpx.Response:
        params = request.url.params
        if request.method == "POST" and not id:
            source, digest = params.get("from"), params.get("mount")
            if digest and source and self.mountable and (source, digest) in self.blobs:
                self.blobs[(repo, digest)] = self.blobs[(source, digest)]
                return httpx.Response(201, headers={
                    "Location": f"/v2/{repo}/blobs/{digest}", **self._digest_header(digest)})
            upload = uuid.uuid4().hex
            self.uploads[upload] = repo
            location = f"/v2/{repo}/blobs/uploads/{upload}"
            if self.location.startswith("absolute"):
                location = f"{request.url.scheme}://{request.url.netloc.decode()}{location}"
            if self.location.endswith("query"):
                location += "?_state=abc%3D%3D&X-Amz-Date=20260304"
            return httpx.Response(202, headers={"Location": location})
        if request.method == "PUT" and id in self.uploads:
            if self.location.endswith("query"):
                # The opaque state must come back exactly as the registry sent it.
                assert b"_state=abc%3D%3D&X-Amz-Date=20260304&digest=" in request.url.query
            digest = params["digest"]
            if sha256_digest(request.content) != digest:
                return _error(400, "DIGEST_INVALID", "provided digest did not match")
            self.blobs[(self.uploads.pop(id), digest)] = request.content
            return httpx.Response(201, headers=self._digest_header(digest))
        if request.method == "DELETE" and id:
            # cancelling a session; `uploads` keeps only the sessions nobody closed
            return httpx.Response(204) if self.uploads.pop(id, None) else _error(
                404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        return _error(405, "UNSUPPORTED", f"{request.method} on uploads")

    def _blob(self, request: httpx.Request, repo: str, digest: str) -> httpx.Response:
        if (repo, digest) in self.blobs and request.method in ("HEAD", "GET"):
            return httpx.Response(200, headers={"Docker-Content-Digest": digest})
        return httpx.Response(404)

    def _manifest(self, request: httpx.Request, repo: str, ref: str) -> httpx.Response:
        digest = ref if ref.startswith("sha256:") else self.tags.get((repo, ref))
        if request.method == "PUT":
            content, digest = request.content, sha256_digest(request.content)
            if not ref.startswith("sha256:"):
                current = self.tags.get((repo, ref))
                if self.immutable and current and current != digest:
                    return _error(400, "TAG_INVALID", f"The image tag '{ref}' already exists "
                                  f"in the '{repo}' repository and cannot be overwritten "
                                  "because the repository is immutable.")
                self.tags[(repo, ref)] = digest
            self.manifests[(repo, digest)] = (content, request.headers["Content-Type"])
            return httpx.Response(201, headers=self._digest_header(digest))
        if digest is None or (repo, digest) not in self.manifests:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        content, media_type = self.manifests[(repo, digest)]
        if request.method == "DELETE":
            del self.manifests[(repo, digest)]
            return httpx.Response(202)
        headers = {"Docker-Content-Digest": digest, "Content-Type": media_type}
        return httpx.Response(200, headers=headers,
                              content=content if request.method == "GET" else b"")

    def _tags(self, request: httpx.Request, repo: str) -> httpx.Response:
        tags = sorted(tag for (r, tag) in self.tags if r == repo)
        if not tags:
            return _error(404, "NAME_UNKNOWN", "repository name not known to registry")
        size = int(request.url.params.get("n", 1000))
        last = request.url.params.get("last")
        rest = [tag for tag in tags if last is None or tag > last]
        page, more = rest[:size], rest[size:]
        headers = {"Link": f'</v2/{repo}/tags/list?n={size}&last={page[-1]}>; rel="next"'
                   } if more else {}
        return httpx.Response(200, json={"name": repo, "tags": page}, headers=headers)


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(registry: FakeRegistry, sleeps: list[float]):
    clients: list[RegistryClient] = []

    def make(host: str = HOST, transport: httpx.BaseTransport | None = None,
             **options) -> RegistryClient:
        client = RegistryClient(host, transport=transport or httpx.MockTransport(registry),
                                sleep=sleeps.append, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _fail_first(count: int, predicate: Callable[[httpx.Request], bool],
                answer: Callable[[], httpx.Response]) -> Hook:
    """A hook answering `answer()` to the first `count` requests that match `predicate`."""
    remaining = [count]

    def hook(request: httpx.Request) -> httpx.Response | None:
        if remaining[0] > 0 and predicate(request):
            remaining[0] -= 1
            return answer()
        return None

    return hook


def _is_blob_put(request: httpx.Request) -> bool:
    return request.method == "PUT" and "/blobs/uploads/" in request.url.path


# --- hosts and schemes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "options", "base_url"),
    [
        # loopback registries (the sandbox) speak plain HTTP
        ("127.0.0.1:5000", {}, "http://127.0.0.1:5000"),
        ("127.8.9.10:5000", {}, "http://127.8.9.10:5000"),
        ("localhost:5000", {}, "http://localhost:5000"),
        ("[::1]:5000", {}, "http://[::1]:5000"),
        ("http://127.0.0.1:5000", {}, "http://127.0.0.1:5000"),
        # ... unless told not to
        ("127.0.0.1:5000", {"insecure_loopback": False}, "https://127.0.0.1:5000"),
        # everything else is HTTPS
        ("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com", {},
         "https://123456789012.dkr.ecr.ap-northeast-2.amazonaws.com"),
        ("https://registry.example.com/", {}, "https://registry.example.com"),
        ("10.0.0.5:5000", {}, "https://10.0.0.5:5000"),
    ],
)
def test_scheme_by_host(make_client, host: str, options: dict, base_url: str) -> None:
    assert make_client(host, **options).base_url == base_url


@pytest.mark.parametrize(
    ("host", "message"),
    [
        # a non-loopback host never gets plain HTTP
        ("http://registry.example.com", "refusing plain HTTP to registry registry.example.com"),
        ("http://10.0.0.5:5000", "refusing plain HTTP"),
        ("http://127.0.0.1:5000/", None),
        # not a host
        ("registry.example.com/team/app", "is not HOST"),
        ("", "is not HOST"),
    ],
)
def test_bad_hosts(make_client, host: str, message: str | None) -> None:
    if message is None:
        with pytest.raises(UsageError, match="refusing plain HTTP"):
            make_client(host, insecure_loopback=False)
        return
    with pytest.raises(UsageError, match=message):
        make_client(host)


def test_credentials_in_host_are_refused_without_echoing_them(make_client) -> None:
    with pytest.raises(UsageError) as caught:
        make_client("user:s3cret@registry.example.com")
    assert "s3cret" not in str(caught.value)


def test_only_https_loads_the_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[object] = []
    real = ssl.SSLContext.load_verify_locations
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations",
                        lambda self, *a, **k: loaded.append(a or k) or real(self, *a, **k))
    # Nothing listens on port 1: each request fails at once, after its transport exists.
    with RegistryClient("127.0.0.1:1", max_retries=0) as plain, \
            pytest.raises(RegistryError, match="still failed after 1 attempts"):
        plain.check_auth()
    assert loaded == []
    with RegistryClient("https://127.0.0.1:1", insecure_loopback=False, max_retries=0) as tls:
        assert loaded == []  # made on the first request, not with the client
        with pytest.raises(RegistryError, match="still failed after 1 attempts"):
            tls.check_auth()
        with pytest.raises(RegistryError):
            tls.check_auth()
    assert len(loaded) == 1


def test_is_loopback_host() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("[::1]:443")
    assert not is_loopback_host("128.0.0.1:5000") and not is_loopback_host("example.com")


# --- pushing ---------------------------------------------------------------------------------


def test_push_single_image(registry: FakeRegistry, make_client, image: OciLayout) -> None:
    events: list = []
    report = make_client(progress=events.append).push_layout(image, REPO, ["1.0.0", "latest"])
    assert report.digest == image.digest and report.media_type == OCI_MANIFEST
    assert (report.pushed_blobs, report.skipped_blobs) == (4, 0)
    assert report.tags_set == ["1.0.0", "latest"] and report.tags_skipped == []
    assert report.platforms == ["linux/amd64"]
    assert report.bytes_uploaded == sum(b.size for b in image.blobs()) + 2 * image.top.size
    assert {(REPO, b.digest) for b in image.blobs()} <= set(registry.blobs)
    # exact bytes, with the media type as Content-Type, under each tag
    assert registry.manifests[(REPO, image.digest)] == (image.top_content, OCI_MANIFEST)
    assert registry.tags[(REPO, "1.0.0")] == registry.tags[(REPO, "latest")] == image.digest
    # monolithic uploads only: one POST and one PUT per blob, never PATCH
    assert len(registry.requests("POST")) == 4 and not registry.requests("PATCH")
    kinds = {type(e) for e in events}
    assert {BlobStarted, BlobAdvanced, BlobDone, ManifestPushed, TagSet} <= kinds
    advanced = sum(e.nbytes for e in events if isinstance(e, BlobAdvanced))
    assert advanced == sum(b.size for b in image.blobs())


def test_push_index_children_by_digest_before_the_index(
        registry: FakeRegistry, make_client, multiarch: OciLayout) -> None:
    report = make_client().push_layout(multiarch, REPO, ["2.0.0"])
    assert report.platforms == ["linux/amd64", "linux/arm64"]
    # 2 configs + 2x2 layers + one shared base layer uploaded once
    assert report.pushed_blobs == 7 and len(registry.requests("POST")) == 7
    puts = [p for p in registry.requests("PUT") if "/manifests/" in p]
    children = [f"/v2/{REPO}/manifests/{c.descriptor.digest}" for c in multiarch.children]
    assert sorted(puts[:2]) == sorted(children)
    assert puts[2:] == [f"/v2/{REPO}/manifests/2.0.0"]
    assert registry.manifests[(REPO, multiarch.digest)] == (multiarch.top_content, OCI_INDEX)
    assert report.pushed_manifests == 3


def test_push_without_tags_pushes_by_digest(registry: FakeRegistry, make_client,
                                            image: OciLayout) -> None:
    report = make_client().push_layout(image, REPO, [])
    assert report.tags_set == [] and (REPO, image.digest) in registry.manifests
    assert make_client().push_layout(image, REPO, []).pushed_manifests == 0


def test_repush_is_heads_only(registry: FakeRegistry, make_client,
                              multiarch: OciLayout) -> None:
    make_client().push_layout(multiarch, REPO, ["2.0.0", "latest"])
    registry.log.clear()
    events: list = []
    report = make_client(progress=events.append).push_layout(multiarch, REPO,
                                                             ["2.0.0", "latest"])
    assert {method for method, _ in registry.log} == {"HEAD"}
    # The registry holds the index, so it holds every blob and child below it: one round of
    # HEAD requests for the index and the tags, none for blobs or children.
    assert sorted(registry.requests("HEAD")) == sorted(
        f"/v2/{REPO}/manifests/{ref}" for ref in (multiarch.digest, "2.0.0", "latest"))
    assert report.pushed_blobs == 0 and report.skipped_blobs == 7
    assert report.tags_skipped == ["2.0.0", "latest"] and report.tags_set == []
    assert report.bytes_uploaded == 0 and report.pushed_manifests == 0
    assert sum(isinstance(e, BlobSkipped) for e in events) == 7
    assert sum(isinstance(e, TagSkipped) for e in events) == 2


def test_only_moved_tags_are_written(registry: FakeRegistry, make_client, tmp_path: Path,
                                     image: OciLayout, build_layout) -> None:
    other = OciLayout.open(build_layout(tmp_path / "other"))
    make_client().push_layout(other, REPO, ["latest"])
    make_client().push_layout(image, REPO, ["1.0.0"])
    report = make_client().push_layout(image, REPO, ["1.0.0", "latest"])
    assert report.tags_skipped == ["1.0.0"] and report.tags_set == ["latest"]
    assert registry.tags[(REPO, "latest")] == image.digest


@pytest.mark.parametrize("location", ["absolute", "relative", "absolute-query",
                                      "relative-query"])
def test_upload_locations(make_client, image: OciLayout, location: str) -> None:
    registry = FakeRegistry(location)
    client = make_client(transport=httpx.MockTransport(registry))
    assert client.push_layout(image, REPO, ["1"]).pushed_blobs == 4
    puts = [p for p in registry.requests("PUT") if "/blobs/uploads/" in p]
    assert len(puts) == 4
    assert all(re.search(r"[?&]digest=sha256:[a-f0-9]{64}$", p) for p in puts)


def test_blob_put_streams_from_disk(tmp_path: Path, registry: FakeRegistry,
                                    make_client, build_layout) -> None:
    layout = OciLayout.open(build_layout(tmp_path / "big",
                                         layer_sizes=(2 * BLOB_CHUNK_BYTES + 123,)))
    big = max(layout.blobs(), key=lambda b: b.size)
    seen: dict[str, object] = {}

    class Inspecting(httpx.MockTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if _is_blob_put(request) and request.url.params["digest"] == big.digest:
                seen["stream"] = type(request.stream).__name__
                seen["headers"] = dict(request.headers)
                # Pull the body as httpx would put it on the wire: chunk by chunk.
                chunks = [bytes(c) for c in request.stream]
                seen["chunks"] = [len(c) for c in chunks]
                request.stream = httpx.ByteStream(b"".join(chunks))
            return super().handle_request(request)

    make_client(transport=Inspecting(registry)).push_layout(layout, REPO, ["1"])
    # an iterator stream, not one bytes body
    assert seen["stream"] != "ByteStream"
    assert seen["headers"]["content-length"] == str(big.size)
    assert "transfer-encoding" not in seen["headers"]
    assert len(seen["chunks"]) == 3 and max(seen["chunks"]) <= BLOB_CHUNK_BYTES


def test_uploads_run_in_parallel(tmp_path: Path, registry: FakeRegistry, make_client,
                                 build_layout) -> None:
    layout = OciLayout.open(build_layout(tmp_path / "many", layer_sizes=(10,) * 9))
    barrier = threading.Barrier(4, timeout=10)
    met = threading.Event()
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def hook(request: httpx.Request) -> None:
        if not _is_blob_put(request):
            return
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        # The barrier only opens when 4 uploads are in flight together; then it is broken
        # on purpose so that later uploads pass straight through.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
            met.set()
            barrier.abort()
        time.sleep(0.01)
        with lock:
            in_flight[0] -= 1

    registry.hooks.append(hook)
    report = make_client(concurrency=5).push_layout(layout, REPO, ["1"])
    assert report.pushed_blobs == 11
    assert met.is_set() and 4 <= peak[0] <= 5


def test_largest_blobs_go_first(tmp_path: Path, registry: FakeRegistry, make_client,
                                build_layout) -> None:
    layout = OciLayout.open(build_layout(tmp_path / "sizes", layer_sizes=(100, 5000, 300)))
    make_client(concurrency=1).push_layout(layout, REPO, ["1"])
    sizes = {blob.digest: blob.size for blob in layout.blobs()}
    puts = [p.rsplit("digest=", 1)[1] for p in registry.requests("PUT") if "/blobs/" in p]
    assert [sizes[digest] for digest in puts] == sorted(sizes.values(), reverse=True)


def test_corrupt_layer_fails_the_push(tmp_path: Path, make_client, build_layout) -> None:
    layout = OciLayout.open(build_layout(tmp_path / "image"))
    layer = layout.blobs()[-1]
    layout.blob_path(layer.digest).write_bytes(os.urandom(layer.size))
    with pytest.raises(UsageError, match=f"blob {layer.digest} .* is corrupt"):
        make_client(concurrency=1).push_layout(layout, REPO, ["1"])


# --- abandoned upload sessions are cancelled ------------------------------------------------


def test_a_refused_blob_put_cancels_its_session(registry: FakeRegistry, make_client,
                                                image: OciLayout) -> None:
    registry.hooks.append(_fail_first(1, _is_blob_put,
                                      lambda: _error(400, "BLOB_UPLOAD_INVALID", "no")))
    with pytest.raises(RegistryError, match="BLOB_UPLOAD_INVALID"):
        make_client(concurrency=1).push_layout(image, REPO, ["1"])
    # the refused session and any the failure aborted (the next blob's, with one worker)
    deletes = registry.requests("DELETE")
    assert deletes and all("/blobs/uploads/" in path for path in deletes)
    assert registry.uploads == {}


def test_uploads_aborted_by_another_blobs_failure_are_cancelled(
        tmp_path: Path, registry: FakeRegistry, make_client, build_layout,
        monkeypatch: pytest.MonkeyPatch) -> None:
    big = 3 * BLOB_CHUNK_BYTES
    layout = OciLayout.open(build_layout(tmp_path / "big", layer_sizes=(big, big)))
    big_sessions_opened = threading.Semaphore(0)
    refused, first_refusal = threading.Event(), threading.Lock()
    read_blob = OciLayout.iter_blob

    def big_blobs_held_until_the_refusal(self: OciLayout, blob):
        # Each big upload streams its first chunk, then waits for the small blob's refusal,
        # so the refusal must abort it mid-body however busy the machine is.
        for number, chunk in enumerate(read_blob(self, blob)):
            if number == 1 and refused.wait(timeout=10):
                time.sleep(0.5)  # room for the push to see the failure and raise its abort
            yield chunk

    def count_big_sessions(event) -> None:
        if isinstance(event, BlobStarted) and event.size == big:
            big_sessions_opened.release()

    def refuse_the_small_blobs(request: httpx.Request) -> httpx.Response | None:
        if not _is_blob_put(request) or int(request.headers["Content-Length"]) >= big:
            return None
        with first_refusal:  # the first refusal waits until both big sessions are open
            if not refused.is_set():
                for _ in range(2):
                    assert big_sessions_opened.acquire(timeout=10)
                refused.set()
        return _error(400, "BLOB_UPLOAD_INVALID", "no")

    monkeypatch.setattr(OciLayout, "iter_blob", big_blobs_held_until_the_refusal)
    registry.hooks.append(refuse_the_small_blobs)
    client = make_client(concurrency=4, progress=count_big_sessions)
    with pytest.raises(RegistryError, match="BLOB_UPLOAD_INVALID"):
        client.push_layout(layout, REPO, ["1"])
    # every session opened was cancelled: the refused small blobs' and both big uploads'
    assert not any(digest == layout.blobs()[0].digest for _, digest in registry.blobs)
    opened = [path for path in registry.requests("POST") if "/blobs/uploads/" in path]
    assert len(registry.requests("DELETE")) == len(opened) >= 3 and registry.uploads == {}


def test_a_mount_session_left_unused_is_cancelled(tmp_path: Path, registry: FakeRegistry,
                                                  make_client, build_layout) -> None:
    layout_path = build_layout(tmp_path / "image")
    layer = OciLayout.open(layout_path).blobs()[-1]
    # a layout built on a base image names it, and may lack the base's layers
    index = json.loads((layout_path / "index.json").read_bytes())
    index["manifests"][0]["annotations"] = {BASE_NAME_ANNOTATION: f"{HOST}/team/base:1"}
    (layout_path / "index.json").write_text(json.dumps(index))
    (layout_path / "blobs" / "sha256" / layer.digest[7:]).unlink()
    layout = OciLayout.open(layout_path)
    assert layer.digest in layout.external
    registry.mountable = False  # the mount POST opens a session instead (202)
    with pytest.raises(BlobNotMounted):
        make_client().push_layout(layout, REPO, ["1"], mount_from="team/base")
    assert len(registry.requests("DELETE")) == 1 and registry.uploads == {}


# --- cross-repository mounts -------------------------------------------------------------------


def test_mount_from_another_repository(registry: FakeRegistry, make_client,
                                       image: OciLayout) -> None:
    make_client().push_layout(image, "team/base", ["1"])
    registry.log.clear()
    events: list = []
    report = make_client(progress=events.append).push_layout(image, REPO, ["1"],
                                                             mount_from="team/base")
    assert report.mounted_blobs == report.pushed_blobs == 4 and report.bytes_uploaded == (
        image.top.size)
    assert not [p for p in registry.requests("PUT") if "/blobs/" in p]
    assert all("mount=sha256" in p and "from=team%2Fbase" in p
               for p in registry.requests("POST"))
    assert sum(isinstance(e, BlobDone) and e.mounted for e in events) == 4


def test_a_fresh_repository_is_not_asked_about_its_blobs(registry: FakeRegistry, make_client,
                                                         image: OciLayout) -> None:
    """Just created: no blob can be there, so no blob HEAD is on any upload's path."""
    report = make_client().push_layout(image, REPO, ["1"], fresh=True)
    assert report.pushed_blobs == 4 and report.tags_set == ["1"]
    heads = registry.requests("HEAD")
    assert not [path for path in heads if "/blobs/" in path]
    assert len(heads) == 2  # the top manifest and the tag: the race checks stay


@pytest.mark.parametrize(
    "answer",
    [
        # 202: the registry did not mount and opened an upload session instead
        None,
        # any error: a mount is only an optimisation
        lambda: _error(500, "UNKNOWN", "boom"),
        lambda: _error(403, "DENIED", "no pull access to team/base"),
        lambda: _error(404, "NAME_UNKNOWN"),
    ],
)
def test_mount_falls_back_to_upload(registry: FakeRegistry, make_client, image: OciLayout,
                                    sleeps: list[float], answer) -> None:
    registry.mountable = False
    if answer is not None:
        registry.hooks.append(
            lambda r: answer() if r.method == "POST" and "mount" in r.url.params else None)
    report = make_client().push_layout(image, REPO, ["1"], mount_from="team/base")
    assert report.mounted_blobs == 0 and report.pushed_blobs == 4
    posts = registry.requests("POST")
    assert len([p for p in posts if "mount=" in p]) == 4  # one try each, never retried
    # a 202 opened an upload session that the upload uses; after an error, a fresh one
    assert len([p for p in posts if "mount=" not in p]) == (0 if answer is None else 4)
    assert sleeps == []


# --- retries -----------------------------------------------------------------------------------


def test_retries_honour_retry_after_and_restart_uploads(
        registry: FakeRegistry, make_client, image: OciLayout, sleeps: list[float]) -> None:
    registry.hooks += [
        _fail_first(1, lambda r: r.method == "HEAD",
                    lambda: httpx.Response(429, headers={"Retry-After": "7"})),
        _fail_first(2, _is_blob_put, lambda: _error(503, "UNAVAILABLE", "try later")),
        _fail_first(1, lambda r: r.method == "POST", lambda: httpx.Response(502)),
        _fail_first(1, lambda r: "/manifests/" in r.url.path and r.method == "PUT",
                    lambda: httpx.Response(504)),
    ]
    events: list = []
    client = make_client(progress=events.append, concurrency=1)
    report = client.push_layout(image, REPO, ["1"])
    assert report.pushed_blobs == 4 and report.retries == 5 == client.retries
    assert sleeps[0] == 7.0 and len(sleeps) == 5
    # every failed PUT started over with a fresh POST: 4 blobs + 2 failed PUTs + 1 failed POST
    assert len(registry.requests("POST")) == 7
    # ... and the session it gave up was cancelled: none is left open
    assert len(registry.requests("DELETE")) == 2 and registry.uploads == {}
    retried = [e for e in events if isinstance(e, RequestRetried)]
    assert [e.reason.split()[0] for e in retried].count("503") == 2
    assert any(isinstance(e, BlobStarted) and e.attempt == 2 for e in events)


def test_connection_errors_are_retried(registry: FakeRegistry, make_client, image: OciLayout,
                                       sleeps: list[float]) -> None:
    def drop() -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    registry.hooks += [_fail_first(2, _is_blob_put, drop),
                       _fail_first(1, lambda r: r.method == "HEAD", drop)]
    report = make_client(concurrency=2).push_layout(image, REPO, ["1"])
    assert report.retries == 3 and report.pushed_blobs == 4


def test_retry_after_http_date_and_cap(registry: FakeRegistry, make_client,
                                       sleeps: list[float]) -> None:
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    registry.hooks += [
        _fail_first(1, lambda r: True, lambda: httpx.Response(503, headers={"Retry-After": soon})),
        _fail_first(1, lambda r: True,
                    lambda: httpx.Response(429, headers={"Retry-After": "86400"})),
    ]
    make_client(max_retry_after=60).check_auth()
    assert 25 <= sleeps[0] <= 30 and sleeps[1] == 60


def test_backoff_grows_with_jitter_then_gives_up(registry: FakeRegistry, make_client,
                                                 sleeps: list[float]) -> None:
    registry.hooks.append(lambda r: httpx.Response(500))
    client = make_client(max_retries=4, backoff_base=1.0, backoff_cap=5.0)
    with pytest.raises(RegistryError, match=r"registry registry\.example\.com: HEAD /v2/team/app/"
                                            r"manifests/1 still failed after 5 attempts \(500"):
        client.manifest_digest(REPO, "1")
    ceilings = [1.0, 2.0, 4.0, 5.0]
    assert len(sleeps) == 4
    assert all(c / 2 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))


def test_non_retriable_errors_name_the_request_and_the_fix(
        registry: FakeRegistry, make_client, image: OciLayout, sleeps: list[float]) -> None:
    registry.hooks.append(lambda r: _error(404, "NAME_UNKNOWN", "repository name not known")
                          if r.method == "POST" else None)
    with pytest.raises(RegistryError) as caught:
        make_client().push_layout(image, REPO, ["1"])
    message = str(caught.value)
    assert message.startswith("registry registry.example.com: POST /v2/team/app/blobs/uploads/ "
                              "answered 404 NAME_UNKNOWN: repository name not known; create the")
    assert "\n" not in message and sleeps == []


# --- digests -----------------------------------------------------------------------------------


def test_blob_digest_mismatch_is_an_error(registry: FakeRegistry, make_client,
                                          image: OciLayout) -> None:
    layer = image.blobs()[-1]
    registry.wrong_digest_for.add(layer.digest)
    with pytest.raises(RegistryError, match=f"stored digest sha256:f{{64}} but we sent "
                                            f"{layer.digest}"):
        make_client().push_layout(image, REPO, ["1"])


def test_a_blob_altered_on_the_way_is_sent_again(registry: FakeRegistry, make_client,
                                                  image: OciLayout, sleeps: list[float]) -> None:
    # The stream checks every byte against the digest, so DIGEST_INVALID after a whole PUT
    # means the bytes changed between client and registry: a retry with a fresh session.
    registry.hooks.append(_fail_first(1, _is_blob_put, lambda: _error(
        400, "DIGEST_INVALID", "provided digest did not match uploaded content")))
    client = make_client(concurrency=1)
    report = client.push_layout(image, REPO, ["1"])
    assert report.retries == 1 and len(sleeps) == 1 and report.tags_set == ["1"]
    assert registry.uploads == {}  # the refused session was cancelled


def test_a_blob_altered_every_time_gives_up_after_the_retries(
        registry: FakeRegistry, make_client, image: OciLayout) -> None:
    registry.hooks.append(_fail_first(99, _is_blob_put, lambda: _error(
        400, "DIGEST_INVALID", "provided digest did not match uploaded content")))
    with pytest.raises(RegistryError, match=r"still failed after 3 attempts \(PUT .* answered "
                                            r"400 DIGEST_INVALID: the bytes were altered"):
        make_client(max_retries=2, concurrency=1).push_layout(image, REPO, ["1"])


def test_manifest_digest_mismatch_is_an_error(registry: FakeRegistry, make_client,
                                              multiarch: OciLayout) -> None:
    registry.wrong_digest_for.add(multiarch.digest)
    with pytest.raises(RegistryError, match=r"PUT /v2/team/app/manifests/1 stored digest"):
        make_client().push_layout(multiarch, REPO, ["1"])


# --- immutable tags ---------------------------------------------------------------------------


def test_immutable_tag_conflict(registry: FakeRegistry, make_client, tmp_path: Path,
                                image: OciLayout, build_layout) -> None:
    registry.immutable = True
    make_client().push_layout(OciLayout.open(build_layout(tmp_path / "other")), REPO, ["1.0.0"])
    with pytest.raises(ConflictError) as caught:
        make_client().push_layout(image, REPO, ["1.0.0", "latest"])
    assert str(caught.value) == ("image tag team/app:1.0.0 is immutable and already points at "
                                 "another image; choose another version")
    # the version tag failed first, so the moving tag was never touched
    assert (REPO, "latest") not in registry.tags


@pytest.mark.parametrize(
    ("answer", "conflict"),
    [
        # ECR: 400 TAG_INVALID
        (lambda: _error(400, "TAG_INVALID", "The image tag '1' already exists"), True),
        # ECR's API exception name in the message
        (lambda: _error(400, "DENIED", "ImageTagAlreadyExistsException: tag exists"), True),
        # distribution-style MANIFEST_INVALID with an immutability message
        (lambda: _error(400, "MANIFEST_INVALID", "tag 1 is immutable"), True),
        # Harbor's immutable-tag rule
        (lambda: _error(412, "PRECONDITION", "configured as immutable, cannot be updated"), True),
        # an ordinary invalid manifest is a registry error, not a conflict
        (lambda: _error(400, "MANIFEST_INVALID", "manifest invalid"), False),
    ],
)
def test_tag_rejections(registry: FakeRegistry, make_client, image: OciLayout, answer,
                        conflict: bool) -> None:
    registry.hooks.append(lambda r: answer() if r.method == "PUT"
                          and r.url.path.endswith("/manifests/1") else None)
    with pytest.raises(ConflictError if conflict else RegistryError):
        make_client().push_layout(image, REPO, ["1"])


# --- version tags in a mutable repository: no compare-and-swap, so check, PUT, read back ------


def _other_pipeline_sets(registry: FakeRegistry, tag: str, digest: str, *, when: str) -> Hook:
    """Another pipeline points `tag` at `digest`: right after our first HEAD of the tag found
    it free, on our second HEAD (the check just before our PUT), or right after our PUT of it
    was stored."""
    heads = [0]

    def hook(request: httpx.Request) -> httpx.Response | None:
        path = f"/v2/{REPO}/manifests/{tag}"
        if request.url.path != path:
            return None
        if when in ("before-put", "after-first-head") and request.method == "HEAD":
            heads[0] += 1
            if heads[0] == (2 if when == "before-put" else 1):
                answer = registry._manifest(request, REPO, tag)  # answered free, then taken
                registry.tags[(REPO, tag)] = digest
                return answer if when == "after-first-head" else None
        if when == "after-put" and request.method == "PUT":
            answer = registry._manifest(request, REPO, tag)  # stored, then overwritten
            registry.tags[(REPO, tag)] = digest
            return answer
        return None

    return hook


@pytest.mark.parametrize("when", ["before-put", "after-put"])
def test_a_version_tag_taken_during_the_push_fails_it(registry: FakeRegistry, make_client,
                                                      tmp_path: Path, image: OciLayout,
                                                      build_layout, when: str) -> None:
    other = OciLayout.open(build_layout(tmp_path / "other"))
    make_client().push_layout(other, REPO, [])  # the other pipeline's image, untagged
    registry.hooks.append(_other_pipeline_sets(registry, "1.0.0", other.digest, when=when))
    with pytest.raises(ConflictError) as caught:
        make_client().push_layout(image, REPO, ["1.0.0", "latest"],
                                  unique_tags=["1.0.0"])
    assert caught.value.exit_code == 6
    message = str(caught.value)
    assert "team/app:1.0.0 was" in message and other.digest[:19] in message
    # the tag stays on the other pipeline's image, and `latest` never moved
    assert registry.tags[(REPO, "1.0.0")] == other.digest
    assert (REPO, "latest") not in registry.tags
    puts = registry.requests("PUT").count(f"/v2/{REPO}/manifests/1.0.0")
    assert puts == (0 if when == "before-put" else 1)


def test_version_tags_are_checked_before_their_put_and_read_back_together(
        registry: FakeRegistry, make_client, image: OciLayout, sleeps: list[float]) -> None:
    make_client().push_layout(image, REPO, ["1.0.0", "sha-abc", "latest"],
                              unique_tags=["1.0.0", "sha-abc"])
    paths = {tag: f"/v2/{REPO}/manifests/{tag}" for tag in ("1.0.0", "sha-abc", "latest")}
    log = [(m, p) for m, p in registry.log if p in paths.values()]
    for tag in ("1.0.0", "sha-abc"):
        # the first round's HEAD, the HEAD just before the PUT, the PUT, the HEAD after it
        assert [m for m, p in log if p == paths[tag]] == ["HEAD", "HEAD", "PUT", "HEAD"]
    # one pause, after both versions were written, then both read back before `latest` moves
    assert sleeps == [0.25]
    last_version_put = max(i for i, (m, p) in enumerate(log)
                           if m == "PUT" and p != paths["latest"])
    read_backs = [i for i, (m, p) in enumerate(log) if m == "HEAD" and i > last_version_put]
    assert len(read_backs) == 2 and log[-1] == ("PUT", paths["latest"])
    # a moving tag is written without those checks
    assert [m for m, p in log if p == paths["latest"]] == ["HEAD", "PUT"]


def test_version_tags_the_registry_keeps_immutable_are_only_put(
        registry: FakeRegistry, make_client, image: OciLayout, sleeps: list[float]) -> None:
    """The registry refuses an overwrite of a guarded tag itself: no second check, no pause, no
    read-back. A tag it does not guard in the same push still gets all three."""
    registry.immutable = True
    make_client().push_layout(image, REPO, ["1.0.0", "sha-abc", "latest"],
                              unique_tags=["1.0.0", "sha-abc"], guarded_tags=["1.0.0"])
    paths = {tag: f"/v2/{REPO}/manifests/{tag}" for tag in ("1.0.0", "sha-abc")}
    assert [m for m, p in registry.log if p == paths["1.0.0"]] == ["HEAD", "PUT"]
    assert [m for m, p in registry.log if p == paths["sha-abc"]] == [
        "HEAD", "HEAD", "PUT", "HEAD"]
    assert sleeps == [0.25]
    registry.log.clear()
    sleeps.clear()
    make_client().push_layout(image, REPO, ["2.0.0", "latest"], unique_tags=["2.0.0"],
                              guarded_tags=["2.0.0"])
    assert sleeps == []  # nothing to read back, so no pause at all


def test_a_guarded_tag_taken_by_another_push_is_refused_by_the_registry(
        registry: FakeRegistry, make_client, tmp_path: Path, image: OciLayout,
        build_layout) -> None:
    registry.immutable = True
    other = OciLayout.open(build_layout(tmp_path / "other"))
    make_client().push_layout(other, REPO, [])
    # the other pipeline takes the tag after our first round of HEADs found it free
    registry.hooks.append(_other_pipeline_sets(registry, "1.0.0", other.digest,
                                               when="after-first-head"))
    with pytest.raises(ConflictError) as caught:
        make_client().push_layout(image, REPO, ["1.0.0", "latest"], unique_tags=["1.0.0"],
                                  guarded_tags=["1.0.0"])
    assert caught.value.exit_code == 6 and "team/app:1.0.0 is immutable" in str(caught.value)
    assert registry.tags[(REPO, "1.0.0")] == other.digest
    assert (REPO, "latest") not in registry.tags


def test_a_guarded_tag_whose_put_answer_was_lost_is_checked_before_the_retry(
        registry: FakeRegistry, make_client, image: OciLayout) -> None:
    """Our PUT landed but its answer did not come back: the retry finds the tag on our image
    (a HEAD), rather than PUT again into the registry's immutability refusal."""
    registry.immutable = True
    lost = [True]

    def store_then_fail(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and request.url.path.endswith("/manifests/1.0.0") and lost[0]:
            lost[0] = False
            registry._manifest(request, REPO, "1.0.0")
            return httpx.Response(502)
        return None

    registry.hooks.append(store_then_fail)
    report = make_client().push_layout(image, REPO, ["1.0.0"], unique_tags=["1.0.0"],
                                       guarded_tags=["1.0.0"])
    assert report.tags_set == ["1.0.0"]
    assert [m for m, p in registry.log if p == f"/v2/{REPO}/manifests/1.0.0"] == [
        "HEAD", "PUT", "HEAD"]


def test_a_guarded_tag_set_to_this_image_by_a_racing_push_is_no_conflict(
        registry: FakeRegistry, make_client, image: OciLayout) -> None:
    """ECR refuses a PUT to an immutable tag even when it holds the very image being pushed:
    another run pushing the same image got there first, which is not a conflict."""
    registry.immutable = True
    stored = [False]

    def same_image_first_then_refuse(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and request.url.path.endswith("/manifests/1.0.0"):
            if not stored[0]:  # the other run's PUT of the same manifest lands first
                stored[0] = True
                registry._manifest(request, REPO, "1.0.0")
            return _error(400, "TAG_INVALID", "The image tag '1.0.0' already exists in the "
                          f"'{REPO}' repository and cannot be overwritten because the tag is "
                          "immutable.")
        return None

    registry.hooks.append(same_image_first_then_refuse)
    report = make_client().push_layout(image, REPO, ["1.0.0"], unique_tags=["1.0.0"],
                                       guarded_tags=["1.0.0"])
    assert report.tags_set == ["1.0.0"]
    assert registry.tags[(REPO, "1.0.0")] == image.digest


# --- authentication ------------------------------------------------------------------------


def _basic_auth_hook(username: str, password: str, refused: list[str] | None = None) -> Hook:
    expected = BasicAuth(username, password).header()

    def hook(request: httpx.Request) -> httpx.Response | None:
        if request.headers.get("Authorization") != expected:
            if refused is not None:
                refused.append(request.method)
            return _error(401, "UNAUTHORIZED", "authentication required",
                          **{"WWW-Authenticate": 'Basic realm="registry"'})
        return None

    return hook


def test_basic_auth(registry: FakeRegistry, make_client, image: OciLayout) -> None:
    refused: list[str] = []
    registry.hooks.append(_basic_auth_hook("AWS", "ecr-token-123", refused))
    client = make_client(auth=("AWS", "ecr-token-123"), concurrency=1)
    assert client.push_layout(image, REPO, ["1"]).tags_set == ["1"]
    # Only the first request went without credentials: after the Basic challenge they are
    # sent up front, which also keeps streamed blob bodies from being sent twice.
    assert refused == ["HEAD"]


def test_basic_first_sends_credentials_with_the_first_request(registry: FakeRegistry,
                                                             make_client,
                                                             image: OciLayout) -> None:
    refused: list[str] = []
    registry.hooks.append(_basic_auth_hook("AWS", "ecr-token-123", refused))
    client = make_client(auth=("AWS", "ecr-token-123"), basic_first=True)
    assert client.push_layout(image, REPO, ["1"]).tags_set == ["1"]
    assert refused == []  # no request waited for a 401


def test_basic_first_still_follows_a_bearer_challenge(registry: FakeRegistry, make_client,
                                                      image: OciLayout) -> None:
    """A registry that wants tokens refuses the Basic header; the client then gets one."""
    seen: list[str] = []

    def hook(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/token":
            return httpx.Response(200, json={"token": "t0ken-abc"})
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != "Bearer t0ken-abc":
            return _error(401, "UNAUTHORIZED", "token required", **{
                "WWW-Authenticate": f'Bearer realm="https://{HOST}/token",service="r"'})
        return None

    registry.hooks.append(hook)
    client = make_client(auth=("AWS", "ecr-token-123"), basic_first=True, concurrency=1)
    assert client.push_layout(image, REPO, ["1"]).tags_set == ["1"]
    assert seen[0].startswith("Basic ") and seen[-1] == "Bearer t0ken-abc"


def test_parallel_first_requests_wait_for_one_challenge(registry: FakeRegistry, make_client,
                                                       image: OciLayout) -> None:
    refused: list[str] = []
    challenge = _basic_auth_hook("AWS", "ecr-token-123", refused)

    def slow_challenge(request: httpx.Request) -> httpx.Response | None:
        answer = challenge(request)
        if answer is not None:
            time.sleep(0.05)  # time enough for the other threads to send theirs, were they free
        return answer

    registry.hooks.append(slow_challenge)
    client = make_client(auth=("AWS", "ecr-token-123"), concurrency=5)
    assert client.push_layout(image, REPO, ["1", "2", "3", "4"]).tags_set == ["1", "2", "3", "4"]
    assert client.manifest_digests(REPO, ["1", "2", "3"]) == dict.fromkeys("123", image.digest)
    # Five HEADs were queued at once, but only the first went out before the Basic challenge.
    assert refused == ["HEAD"]


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (("AWS", "wrong-password"), "refused the credentials"),
        (None, "requires credentials"),
    ],
)
def test_basic_auth_refused(registry: FakeRegistry, make_client, auth, message: str) -> None:
    registry.hooks.append(_basic_auth_hook("AWS", "right-password"))
    with pytest.raises(AuthError, match=message) as caught:
        make_client(auth=auth).check_auth()
    assert "registry.example.com" in str(caught.value)
    assert "wrong-password" not in str(caught.value)


def test_forbidden_is_an_auth_error(registry: FakeRegistry, make_client) -> None:
    registry.hooks.append(lambda r: _error(403, "DENIED", "not authorized to push"))
    with pytest.raises(AuthError, match=r"registry registry\.example\.com denied HEAD .*\("
                                        r"403 DENIED: not authorized to push\)"):
        make_client(auth=("robot", "hunter2")).blob_exists(REPO, "sha256:" + "0" * 64)


class TokenService:
    """A bearer-token realm at https://auth.example.com/token that checks basic creds."""

    realm = "https://auth.example.com/token"

    def __init__(self, username: str, password: str) -> None:
        self.expected = BasicAuth(username, password).header()
        self.requests: list[httpx.QueryParams] = []
        self.issued: dict[str, str] = {}  # token -> scopes

    def __call__(self, request: httpx.Request) -> httpx.Response | None:
        if request.url.host == "auth.example.com":
            self.requests.append(request.url.params)
            if request.headers.get("Authorization") != self.expected:
                return _error(401, "UNAUTHORIZED", "bad credentials")
            token = f"tok-{uuid.uuid4().hex}"
            self.issued[token] = " ".join(request.url.params.get_list("scope"))
            return httpx.Response(200, json={"token": token, "expires_in": 300})
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        scope = _required_scope(request)
        if not header.startswith("Bearer ") or scope not in self.issued.get(token, ""):
            challenge = f'Bearer realm="{self.realm}",service="registry.example.com"'
            if scope:
                challenge += f',scope="{scope}"'
            return _error(401, "UNAUTHORIZED", "authentication required",
                          **{"WWW-Authenticate": challenge})
        return None


def _required_scope(request: httpx.Request) -> str:
    match = re.match(r"^/v2/(.+)/(blobs|manifests|tags)/", request.url.path)
    if not match:
        return ""
    action = "pull" if request.method in ("GET", "HEAD") else "pull,push"
    return f"repository:{match.group(1)}:{action}"


def test_bearer_token_flow(registry: FakeRegistry, make_client, image: OciLayout,
                           build_layout) -> None:
    service = TokenService("robot", "hunter2")
    registry.hooks.append(service)
    client = make_client(auth=BasicAuth("robot", "hunter2"))
    report = client.push_layout(image, REPO, ["1"])
    assert report.tags_set == ["1"]
    # one token per scope (pull for HEADs, pull,push for writes), then cached
    scopes = sorted(params.get("scope") for params in service.requests)
    assert scopes == [f"repository:{REPO}:pull", f"repository:{REPO}:pull,push"]
    assert all(params.get("service") == "registry.example.com" for params in service.requests)
    # later pushes reuse the cached tokens
    again = OciLayout.open(build_layout(image.path.parent / "again"))
    make_client_again = client.push_layout(again, REPO, ["2"])
    assert make_client_again.tags_set == ["2"] and len(service.requests) == 2
    # tokens and passwords never show in the client's repr
    assert "hunter2" not in repr(client) and "tok-" not in repr(client)
    assert repr(BasicAuth("robot", "hunter2")) == "BasicAuth(username='robot', password='***')"


def test_bearer_token_refused(registry: FakeRegistry, make_client) -> None:
    registry.hooks.append(TokenService("robot", "hunter2"))
    with pytest.raises(AuthError, match=r"token service auth\.example\.com refused") as caught:
        make_client(auth=("robot", "wrong")).manifest_digest(REPO, "1")
    assert "wrong" not in str(caught.value)


def test_bearer_realm_over_plain_http_is_refused(registry: FakeRegistry, make_client) -> None:
    registry.hooks.append(lambda r: httpx.Response(401, headers={
        "WWW-Authenticate": 'Bearer realm="http://auth.example.com/token",service="x"'}))
    with pytest.raises(AuthError, match="token service over http"):
        make_client(auth=("robot", "hunter2")).check_auth()


def test_error_messages_mask_echoed_secrets(registry: FakeRegistry, make_client) -> None:
    registry.hooks.append(lambda r: _error(400, "UNKNOWN", "bad header Basic hunter2"))
    with pytest.raises(RegistryError) as caught:
        make_client(auth=("robot", "hunter2")).check_auth()
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


# --- read API ------------------------------------------------------------------------------


def test_read_api(registry: FakeRegistry, make_client, multiarch: OciLayout) -> None:
    client = make_client()
    assert client.manifest_digest(REPO, "1") is None
    assert client.list_tags(REPO) == []
    client.push_layout(multiarch, REPO, ["1", "2", "3", "latest"])
    assert client.manifest_digest(REPO, "1") == multiarch.digest
    content, media_type, digest = client.get_manifest(REPO, "latest")
    assert (content, media_type, digest) == (multiarch.top_content, OCI_INDEX, multiarch.digest)
    child = multiarch.children[0].descriptor
    assert client.get_manifest(REPO, child.digest)[1:] == (OCI_MANIFEST, child.digest)
    assert client.blob_exists(REPO, multiarch.blobs()[0].digest)
    assert not client.blob_exists(REPO, "sha256:" + "0" * 64)
    assert client.delete_manifest(REPO, child.digest) is True
    assert client.delete_manifest(REPO, child.digest) is False
    with pytest.raises(UsageError, match="needs a sha256 digest"):
        client.delete_manifest(REPO, "latest")
    client.check_auth()


def test_manifest_digests_asks_for_several_at_once(registry: FakeRegistry, make_client,
                                                   image: OciLayout) -> None:
    client = make_client()
    client.push_layout(image, REPO, ["1", "latest"])
    registry.log.clear()
    found = client.manifest_digests(REPO, ["1", "latest", "2", "1", image.digest])
    assert found == {"1": image.digest, "latest": image.digest, "2": None,
                     image.digest: image.digest}
    assert len(registry.requests("HEAD")) == 4
    assert client.manifest_digests(REPO, []) == {}
    with pytest.raises(UsageError, match="neither an image tag"):
        client.manifest_digests(REPO, ["1", "bad+tag"])


def test_list_tags_follows_link_pages(registry: FakeRegistry, make_client,
                                      image: OciLayout) -> None:
    tags = [f"t{i:02d}" for i in range(7)]
    make_client().push_layout(image, REPO, tags)
    registry.log.clear()
    assert make_client().list_tags(REPO, page_size=3) == tags
    assert len(registry.requests("GET")) == 3


def test_get_manifest_checks_content_against_the_digest(registry: FakeRegistry,
                                                        make_client) -> None:
    wanted = "sha256:" + "a" * 64
    registry.hooks.append(lambda r: httpx.Response(
        200, content=b'{"schemaVersion":2}', headers={"Content-Type": OCI_MANIFEST}))
    with pytest.raises(RegistryError, match="returned content with digest"):
        make_client().get_manifest(REPO, wanted)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.manifest_digest("Team/App", "1"), "not a valid repository name"),
        (lambda c: c.manifest_digest(REPO, "1.0.0+build"), "neither an image tag"),
        (lambda c: c.blob_exists(REPO, "md5:abc"), "not a sha256 digest"),
        (lambda c: c.push_layout(None, REPO, ["1.0.0+build"]), "no '\\+'"),
    ],
)
def test_bad_names_are_usage_errors(make_client, call, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call(make_client())
