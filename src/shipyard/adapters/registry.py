"""Our own OCI distribution client, on httpx: push an image layout, read manifests and tags.

Why our own client: the Python alternatives are not fit for pushing release images. oras-py
reads whole blobs into memory, uploads serially and retries blind to status codes. The registry
protocol we need is about eight endpoints, and we must control each request because of ECR's
quirks, so a thin client on httpx is less code to trust than a wrapper around a library:

    GET    /v2/                                   check_auth
    HEAD   /v2/<repo>/blobs/<digest>              blob_exists: skip what is already there
    POST   /v2/<repo>/blobs/uploads/?mount=&from= cross-repository mount, no bytes sent
    POST   /v2/<repo>/blobs/uploads/              open an upload session (Location)
    PUT    <Location>?digest=<digest>             the whole blob in one request
    HEAD   /v2/<repo>/manifests/<ref>             manifest_digest: where a tag points
    GET    /v2/<repo>/manifests/<ref>             get_manifest
    PUT    /v2/<repo>/manifests/<ref>             push a manifest, set a tag
    DELETE /v2/<repo>/manifests/<digest>          delete_manifest
    GET    /v2/<repo>/tags/list                   list_tags (paginated by Link headers)

What it does about the registries we push to:

* ECR answers 201 to chunked `PATCH` uploads and then drops later chunks, so uploads are
  monolithic: one POST, then one PUT streaming the whole blob from disk with Content-Length.
* Blobs are HEADed first and skipped when present; a cross-repository mount is tried when the
  caller names a source repository, and any failure of it falls back to a normal upload.
* Up to `concurrency` (default 5) blobs move at once over one pooled, thread-safe httpx.Client.
* 408, 429 and 5xx answers and connection resets are retried with exponential backoff and
  jitter, honouring `Retry-After`; a retried upload restarts with a fresh POST, because an
  upload session that failed half-way cannot be trusted.
* The registry's `Docker-Content-Digest` must equal ours for every blob and manifest we PUT.
* A multi-arch index is pushed bottom-up: blobs, then each child manifest by digest, then the
  index under each tag. A tag that already points at our digest is not written again, so a
  repeated push is HEAD requests only, in parallel.
* ECR rejects overwriting an immutable tag with `400 TAG_INVALID`; that becomes ConflictError.
* Plain HTTP only for loopback registries (the sandbox); credentials and tokens are never
  logged, never put into messages, and masked in reprs.

The client never prints: progress is reported as small dataclass events to a callback.
"""

from __future__ import annotations

import base64
import email.utils
import ipaddress
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urljoin

import httpx

from shipyard.adapters.oci_layout import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MANIFEST_MEDIA_TYPES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    OciLayout,
    sha256_digest,
)
from shipyard.errors import AuthError, ConflictError, RegistryError, ShipyardError, UsageError

__all__ = [
    "BasicAuth",
    "BlobAdvanced",
    "BlobDone",
    "BlobSkipped",
    "BlobStarted",
    "ManifestPushed",
    "ProgressCallback",
    "ProgressEvent",
    "PushReport",
    "RegistryClient",
    "RequestRetried",
    "TagSet",
    "TagSkipped",
    "is_loopback_host",
]

_log = logging.getLogger(__name__)

RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# HEAD/GET of a manifest must list every type we can handle; a registry picks the stored type
# only if it is acceptable, and otherwise may answer 404 or convert it (distribution 2.x turns
# an index into one platform's schema 2 manifest for clients that do not accept indexes).
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))
DIGEST_HEADER = "Docker-Content-Digest"
USER_AGENT = "shipyard-registry-client/1"

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))')
_MAX_TAG_PAGES = 10_000
_T = TypeVar("_T")


# --- credentials and progress events -------------------------------------------------------


@dataclass(frozen=True, repr=False)
class BasicAuth:
    """A username and password (for ECR: `AWS` and the GetAuthorizationToken password)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='***')"

    def header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class BlobStarted:
    """An upload of a blob began (again, on a retry: `attempt` > 1 resets its progress)."""

    digest: str
    size: int
    attempt: int = 1


@dataclass(frozen=True)
class BlobAdvanced:
    """`nbytes` more bytes of a blob went onto the wire."""

    digest: str
    nbytes: int


@dataclass(frozen=True)
class BlobDone:
    """A blob is in the repository now: uploaded, or mounted from another repository."""

    digest: str
    size: int
    mounted: bool = False


@dataclass(frozen=True)
class BlobSkipped:
    """A blob was already in the repository; nothing was sent."""

    digest: str
    size: int


@dataclass(frozen=True)
class ManifestPushed:
    """A manifest was PUT under `reference` (a digest for index children)."""

    digest: str
    media_type: str
    reference: str


@dataclass(frozen=True)
class TagSet:
    """A tag now points at the pushed image."""

    tag: str
    digest: str


@dataclass(frozen=True)
class TagSkipped:
    """A tag already pointed at the pushed image, so it was not written."""

    tag: str
    digest: str


@dataclass(frozen=True)
class RequestRetried:
    """A request failed in a retriable way; the client waits `delay` seconds and retries."""

    what: str
    attempt: int
    delay: float
    reason: str


ProgressEvent = (BlobStarted | BlobAdvanced | BlobDone | BlobSkipped | ManifestPushed | TagSet
                 | TagSkipped | RequestRetried)
ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class PushReport:
    """What `push_layout` did; counts are of configs and layers, each digest once."""

    repository: str
    digest: str
    media_type: str
    pushed_blobs: int = 0
    skipped_blobs: int = 0
    mounted_blobs: int = 0  # part of pushed_blobs: made present without sending the bytes
    pushed_manifests: int = 0
    tags_set: list[str] = field(default_factory=list)
    tags_skipped: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0  # blob and manifest bodies sent in successful PUTs
    retries: int = 0


# --- hosts and URLs ------------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and `[::1]`, with or without a port."""
    name = _host_name(host)
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _base_url(host: str, insecure_loopback: bool) -> tuple[str, str]:
    """(`host[:port]`, `scheme://host[:port]`) for a registry; plain HTTP only on loopback."""
    text = host.strip().rstrip("/")
    scheme = None
    for prefix in ("https://", "http://"):
        if text.lower().startswith(prefix):
            scheme, text = prefix[:-3], text[len(prefix):]
    if "@" in text:
        # Never echo this host: it carries credentials.
        raise UsageError("the registry host must not contain credentials; pass them as a "
                         "username and password instead")
    if not text or "/" in text or (text.count(":") > 1 and not text.startswith("[")):
        raise UsageError(f"registry host {host!r} is not HOST[:PORT]; pass e.g. "
                         "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com or 127.0.0.1:5000")
    loopback = is_loopback_host(text)
    if scheme == "http" and not (loopback and insecure_loopback):
        raise UsageError(f"refusing plain HTTP to registry {text}: only a loopback registry may "
                         "use http://; use https://")
    if scheme is None:
        scheme = "http" if loopback and insecure_loopback else "https"
    text = text.lower()
    return text, f"{scheme}://{text}"


def _with_digest(location: str, digest: str) -> str:
    # The upload Location is opaque: distribution puts a signed `_state` in its query and ECR
    # its own parameters, so append to the query as-is instead of parsing and re-encoding it.
    separator = "&" if "?" in location else "?"
    return f"{location}{separator}digest={digest}"


def _path_of(url: str | httpx.URL) -> str:
    """A URL's path without its query, which may hold upload state: safe to show."""
    return httpx.URL(str(url)).path


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` → ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def _registry_errors(response: httpx.Response) -> list[tuple[str, str]]:
    """(code, message) pairs from the distribution error body `{"errors": [...]}`."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return []
    errors = data.get("errors") if isinstance(data, Mapping) else None
    if not isinstance(errors, list):
        return []
    return [(str(e.get("code", "")), str(e.get("message", "")))
            for e in errors if isinstance(e, Mapping)]


# What to do about a registry error code; the first matching code of an answer wins.
_FIXES = {
    "NAME_UNKNOWN": "create the repository first (ECR does not create repositories on push)",
    "NAME_INVALID": "use a repository name of lowercase letters, digits, '.', '_', '-' and '/'",
    "BLOB_UNKNOWN": "a blob the manifest needs is missing from the repository; push again",
    "MANIFEST_BLOB_UNKNOWN": "a blob the manifest needs is missing; push the whole layout again",
    "MANIFEST_INVALID": "the registry refused the manifest; check the image layout",
    "MANIFEST_UNKNOWN": "check the repository and the tag or digest",
    "DIGEST_INVALID": "the content does not match its digest; write the layout again",
    "SIZE_INVALID": "the content does not match its size; write the layout again",
    "UNSUPPORTED": "the registry does not support this (deletes need storage.delete.enabled)",
    "TOOMANYREQUESTS": "the registry is rate limiting; wait and try again",
}
_DEFAULT_FIX = "check the registry's logs for the rejected request"


def _describe(response: httpx.Response) -> str:
    """`400 MANIFEST_INVALID: manifest invalid` or `404 Not Found`, on one line."""
    errors = _registry_errors(response)
    if not errors:
        return f"{response.status_code} {response.reason_phrase}".strip()
    code, message = errors[0]
    text = f"{response.status_code} {code}" + (f": {message}" if message else "")
    return " ".join(text.split())[:300]


def _is_immutable_rejection(response: httpx.Response) -> bool:
    # ECR answers an overwrite of an immutable tag with 400 TAG_INVALID ("The image tag '1.2.0'
    # already exists in the 'x' repository and cannot be overwritten because the repository is
    # immutable"); its API calls it ImageTagAlreadyExistsException. Distribution-based
    # registries put "immutable" into MANIFEST_INVALID or TAG_INVALID; Harbor answers 412.
    # (Distribution's own TAG_INVALID is for schema 1 manifests, which we never push.)
    if response.status_code not in (400, 409, 412):
        return False
    for code, message in _registry_errors(response):
        lowered = message.lower()
        if code == "TAG_INVALID" and response.status_code == 400:
            return True
        if "immutable" in lowered or "imagetagalreadyexistsexception" in lowered:
            return True
    return False


class _Retry(Exception):
    """One attempt failed in a way worth retrying (status or connection error)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Aborted(Exception):
    """Stops an upload stream because the push already failed elsewhere."""


@dataclass
class _PushState:
    """Shared between the worker threads of one push_layout call."""

    report: PushReport
    abort: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, outcome: str, size: int = 0) -> None:
        with self.lock:
            if outcome == "present":
                self.report.skipped_blobs += 1
            else:
                self.report.pushed_blobs += 1
                self.report.mounted_blobs += outcome == "mounted"
                self.report.bytes_uploaded += size

    def manifest_pushed(self, size: int) -> None:
        with self.lock:
            self.report.pushed_manifests += 1
            self.report.bytes_uploaded += size


# --- the client ----------------------------------------------------------------------------


class RegistryClient:
    """A client for one registry host; thread-safe, to be closed (or used as a context manager).

    Example::

        with RegistryClient("127.0.0.1:5000", auth=BasicAuth("u", "p")) as registry:
            report = registry.push_layout(OciLayout.open("build/oci"), "gamepulse", ["1.2.0"])
            report.digest, report.tags_set
    """

    def __init__(
        self,
        host: str,
        *,
        auth: BasicAuth | tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        concurrency: int = 5,
        max_retries: int = 5,
        progress: ProgressCallback | None = None,
        insecure_loopback: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        if concurrency < 1 or max_retries < 0:
            raise UsageError("registry concurrency must be at least 1 and retries at least 0; "
                             "pass e.g. concurrency=5, max_retries=5")
        self.host, self.base_url = _base_url(host, insecure_loopback)
        self._auth = BasicAuth(*auth) if isinstance(auth, tuple) else auth
        self._concurrency = concurrency
        self._max_retries = max_retries
        self._progress = progress
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_retry_after = max_retry_after
        self._random = random.Random()
        self._lock = threading.Lock()
        self._progress_lock = threading.Lock()
        self._token_lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, monotonic expiry)
        self._use_basic = False  # set once the registry asked for Basic auth
        self._known_blobs: set[tuple[str, str]] = set()
        self.retries = 0
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout or httpx.Timeout(connect=15.0, read=300.0, write=300.0, pool=60.0),
            limits=httpx.Limits(max_connections=concurrency + 2,
                                max_keepalive_connections=concurrency + 2),
            headers={"User-Agent": USER_AGENT},
            # Proxy variables are for reaching the internet; a loopback registry is local.
            trust_env=not is_loopback_host(self.host),
        )

    def __repr__(self) -> str:
        return f"RegistryClient(host={self.host!r}, auth={self._auth!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- read API ------------------------------------------------------------------------

    def check_auth(self) -> None:
        """GET /v2/: raises AuthError unless the credentials (or anonymous access) work."""
        what = "GET /v2/"
        response = self._call("GET", f"{self.base_url}/v2/", scope="", what=what)
        if response.status_code != 200:
            raise self._failure(response, what)

    def blob_exists(self, repository: str, digest: str) -> bool:
        """HEAD a blob: True when the repository holds it."""
        _check_repository(repository)
        _check_digest(digest)
        what = f"HEAD /v2/{repository}/blobs/{digest}"
        # Registries on object storage (ECR, S3-backed distribution) may redirect blob reads.
        response = self._call("HEAD", f"{self.base_url}/v2/{repository}/blobs/{digest}",
                              scope=_pull(repository), what=what, follow_redirects=True)
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise self._failure(response, what)

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest a tag (or digest) resolves to, or None when the registry has no such."""
        _check_repository(repository)
        _check_reference(reference)
        what = f"HEAD /v2/{repository}/manifests/{reference}"
        response = self._call("HEAD", self._manifest_url(repository, reference),
                              scope=_pull(repository), what=what,
                              headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._failure(response, what)
        digest = response.headers.get(DIGEST_HEADER)
        if digest:
            return digest
        # The header is optional for HEAD in the spec; the bytes are the truth.
        return self.get_manifest(repository, reference)[2]

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest; the digest is computed from the bytes."""
        _check_repository(repository)
        _check_reference(reference)
        what = f"GET /v2/{repository}/manifests/{reference}"
        response = self._call("GET", self._manifest_url(repository, reference),
                              scope=_pull(repository), what=what,
                              headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code != 200:
            raise self._failure(response, what)
        content = response.content
        if len(content) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"registry {self.host}: {what} returned {len(content)} bytes, "
                                "more than a manifest may have; check the reference")
        digest = sha256_digest(content)
        if _DIGEST.match(reference) and digest != reference:
            raise RegistryError(f"registry {self.host}: {what} returned content with digest "
                                f"{digest}; the registry or a proxy altered it, try again")
        return content, _media_type(response, content), digest

    def list_tags(self, repository: str, page_size: int = 1000) -> list[str]:
        """Every tag of a repository, following `Link: <…>; rel="next"` pages; [] if unknown."""
        _check_repository(repository)
        url: str | None = f"{self.base_url}/v2/{repository}/tags/list?n={page_size}"
        tags: list[str] = []
        seen: set[str] = set()
        while url and url not in seen and len(seen) < _MAX_TAG_PAGES:
            seen.add(url)
            what = f"GET /v2/{repository}/tags/list"
            response = self._call("GET", url, scope=_pull(repository), what=what)
            if response.status_code == 404 and not tags:
                return []
            if response.status_code != 200:
                raise self._failure(response, what)
            try:
                page = response.json().get("tags") or []
            except (ValueError, AttributeError) as exc:
                raise RegistryError(f"registry {self.host}: {what} did not return a JSON tag "
                                    "list; check that HOST is an OCI registry") from exc
            tags.extend(str(tag) for tag in page)
            url = self._next_page(response)
        return tags

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest; False when it was not there (already deleted)."""
        _check_repository(repository)
        if not _DIGEST.match(digest):
            raise UsageError(f"delete_manifest needs a sha256 digest, not {digest!r}; resolve "
                             "a tag with manifest_digest first")
        what = f"DELETE /v2/{repository}/manifests/{digest}"
        response = self._call("DELETE", self._manifest_url(repository, digest),
                              scope=f"repository:{repository}:delete", what=what)
        if response.status_code in (200, 202, 204):
            return True
        if response.status_code == 404:
            return False
        raise self._failure(response, what)

    # --- push ----------------------------------------------------------------------------

    def push_layout(self, layout: OciLayout, repository: str, tags: Sequence[str], *,
                    mount_from: str | None = None) -> PushReport:
        """Push every blob and manifest of `layout`, then point each of `tags` at it.

        Blobs already present are skipped; with `mount_from` missing blobs are first mounted
        from that repository of the same registry. Index children are pushed by digest, then
        the top-level manifest under each tag, in the given order (so a conflict on a version
        tag stops before a moving tag such as `latest` changes). Without tags the top-level
        manifest is pushed by digest.

        Raises ConflictError when an immutable tag already points at another image,
        AuthError when credentials are refused, RegistryError for anything else the
        registry refuses or keeps failing at.
        """
        _check_repository(repository)
        if mount_from is not None:
            _check_repository(mount_from)
        tags = list(dict.fromkeys(tags))
        for tag in tags:
            _check_tag(tag)
        report = PushReport(repository=repository, digest=layout.digest,
                            media_type=layout.media_type, platforms=layout.platforms)
        state = _PushState(report)
        retries_before = self.retries
        pool = ThreadPoolExecutor(max_workers=self._concurrency,
                                  thread_name_prefix="shipyard-push")
        try:
            self._push_with(pool, state, layout, repository, tags, mount_from)
        except BaseException:
            state.abort.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        report.retries = self.retries - retries_before
        return report

    def _push_with(self, pool: ThreadPoolExecutor, state: _PushState, layout: OciLayout,
                   repository: str, tags: list[str], mount_from: str | None) -> None:
        # Every HEAD is queued first so that a push of what is already there costs one
        # parallel round of HEAD requests and nothing else.
        tag_heads = {tag: pool.submit(self.manifest_digest, repository, tag) for tag in tags}
        child_heads = {child.descriptor.digest: pool.submit(
            self.manifest_digest, repository, child.descriptor.digest)
            for child in layout.children}
        top_head = (None if tags else
                    pool.submit(self.manifest_digest, repository, layout.digest))
        _results([pool.submit(self._ensure_blob, layout, repository, blob, mount_from, state)
                  for blob in layout.blobs()])

        missing_children = [child for child in layout.children
                            if _results([child_heads[child.descriptor.digest]])[0]
                            != child.descriptor.digest]
        _results([pool.submit(self._put_manifest, repository, child.descriptor.digest,
                              child.content, child.descriptor, state)
                  for child in missing_children])

        top = layout.top
        for tag in tags:
            if _results([tag_heads[tag]])[0] == top.digest:
                state.report.tags_skipped.append(tag)
                self._emit(TagSkipped(tag, top.digest))
                continue
            self._put_manifest(repository, tag, layout.top_content, top, state)
            state.report.tags_set.append(tag)
            self._emit(TagSet(tag, top.digest))
        if top_head is not None and _results([top_head])[0] != top.digest:
            self._put_manifest(repository, top.digest, layout.top_content, top, state)

    def _ensure_blob(self, layout: OciLayout, repository: str, blob: Descriptor,
                     mount_from: str | None, state: _PushState) -> None:
        """Make one blob present in the repository: skip, mount or upload it."""
        key = (repository, blob.digest)
        if key in self._known_blobs or self.blob_exists(repository, blob.digest):
            outcome = "present"
            self._emit(BlobSkipped(blob.digest, blob.size))
        elif (mount_from and mount_from != repository
              and self._mount(repository, blob, mount_from)):
            outcome = "mounted"
            self._emit(BlobDone(blob.digest, blob.size, mounted=True))
        else:
            self._upload(layout, repository, blob, state)
            outcome = "uploaded"
            self._emit(BlobDone(blob.digest, blob.size))
        with self._lock:
            self._known_blobs.add(key)
        state.count(outcome, blob.size if outcome == "uploaded" else 0)

    def _mount(self, repository: str, blob: Descriptor, source: str) -> bool:
        """Try a cross-repository mount; False on anything but a verified 201 Created."""
        what = f"POST /v2/{repository}/blobs/uploads/ (mount from {source})"
        try:
            response = self._attempt(
                "POST", f"{self.base_url}/v2/{repository}/blobs/uploads/",
                params={"mount": blob.digest, "from": source},
                scope=f"{_push(repository)} {_pull(source)}", what=what)
        except (_Retry, ShipyardError) as exc:
            # A mount is only an optimisation: any failure (no pull access to the source, a
            # registry without mount support, an outage) falls back to a normal upload.
            _log.debug("mount of %s failed (%s); uploading instead", blob.digest, exc)
            return False
        if response.status_code != 201:
            # 202 means the registry did not mount and opened an upload session instead; we
            # leave it to expire and start our own, so every upload takes the one path that
            # is retried and verified.
            return False
        return response.headers.get(DIGEST_HEADER, blob.digest) == blob.digest

    def _upload(self, layout: OciLayout, repository: str, blob: Descriptor,
                state: _PushState) -> None:
        """Monolithic upload: POST for a session, then one PUT streaming the whole blob."""
        what = f"upload of blob {blob.digest} to {repository}"
        attempts = 0

        def once() -> None:
            nonlocal attempts
            attempts += 1
            location = self._start_upload(repository)
            self._emit(BlobStarted(blob.digest, blob.size, attempts))
            put_what = f"PUT {_path_of(location)}"
            response = self._attempt(
                "PUT", _with_digest(location, blob.digest), scope=_push(repository),
                what=put_what,
                # Content-Length with an iterator body keeps httpx from chunked encoding;
                # the body is a generator reading the file, never the whole blob at once.
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(blob.size)},
                body=lambda: self._blob_body(layout, blob, state))
            if response.status_code != 201:
                raise self._failure(response, put_what)
            self._check_stored_digest(response, blob.digest, put_what)

        self._retrying(what, once)

    def _start_upload(self, repository: str) -> str:
        what = f"POST /v2/{repository}/blobs/uploads/"
        response = self._attempt("POST", f"{self.base_url}/v2/{repository}/blobs/uploads/",
                                 scope=_push(repository), what=what)
        if response.status_code != 202:
            raise self._failure(response, what)
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.host}: {what} answered 202 without a Location "
                                "header; the registry does not follow the distribution spec")
        # Location may be absolute (distribution, ECR) or relative to the request (allowed).
        return self._checked_url(urljoin(str(response.url), location), what)

    def _blob_body(self, layout: OciLayout, blob: Descriptor,
                   state: _PushState) -> Iterator[bytes]:
        for chunk in layout.iter_blob(blob):
            if state.abort.is_set():
                raise _Aborted(blob.digest)
            yield chunk
            self._emit(BlobAdvanced(blob.digest, len(chunk)))

    def _put_manifest(self, repository: str, reference: str, content: bytes,
                      descriptor: Descriptor, state: _PushState) -> None:
        """PUT a manifest's exact bytes under a digest or tag, then verify its digest."""
        what = f"PUT /v2/{repository}/manifests/{reference}"
        response = self._call("PUT", self._manifest_url(repository, reference),
                              scope=_push(repository), what=what, body=content,
                              headers={"Content-Type": descriptor.media_type})
        if response.status_code not in (200, 201):
            if not _DIGEST.match(reference) and _is_immutable_rejection(response):
                raise ConflictError(f"image tag {repository}:{reference} is immutable and "
                                    "already points at another image; choose another version")
            raise self._failure(response, what)
        self._check_stored_digest(response, descriptor.digest, what)
        state.manifest_pushed(len(content))
        self._emit(ManifestPushed(descriptor.digest, descriptor.media_type, reference))

    def _check_stored_digest(self, response: httpx.Response, expected: str, what: str) -> None:
        # The registry names what it stored; if that differs from what we computed, the
        # bytes changed on the way and the tag would point at something we never built.
        # A registry that omits the header is taken at its 201: for blobs it has checked the
        # `?digest=` we sent, and for manifests it stores the exact bytes we sent.
        stored = response.headers.get(DIGEST_HEADER)
        if stored is not None and stored != expected:
            raise RegistryError(f"registry {self.host}: {what} stored digest {stored} but we "
                                f"sent {expected}; something altered the content, push again")

    # --- requests, retries and authentication --------------------------------------------

    def _call(self, method: str, url: str, *, scope: str, what: str,
              headers: Mapping[str, str] | None = None, body: bytes | None = None,
              follow_redirects: bool = False) -> httpx.Response:
        """One request, retried on retriable failures; returns any non-retriable answer."""
        return self._retrying(what, lambda: self._attempt(
            method, url, scope=scope, what=what, headers=headers, body=body,
            follow_redirects=follow_redirects))

    def _retrying(self, what: str, attempt: Callable[[], _T]) -> _T:
        """Run `attempt` until it stops raising _Retry, with backoff; at most max_retries+1."""
        number = 0
        while True:
            try:
                return attempt()
            except _Retry as retry:
                if number >= self._max_retries:
                    raise RegistryError(
                        f"registry {self.host}: {what} still failed after {number + 1} "
                        f"attempts ({retry.reason}); check that the registry is reachable and "
                        "healthy, then push again") from retry.__cause__
                delay = self._delay(number, retry.retry_after)
                number += 1
                with self._lock:
                    self.retries += 1
                _log.debug("%s failed (%s); retry %d in %.2fs", what, retry.reason, number,
                           delay)
                self._emit(RequestRetried(what, number, delay, retry.reason))
                self._sleep(delay)

    def _delay(self, number: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_retry_after)
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** number)
        # "Equal jitter": at least half the backoff, so parallel uploads that failed together
        # do not all come back at the same instant.
        return self._random.uniform(ceiling / 2, ceiling)

    def _attempt(self, method: str, url: str, *, scope: str, what: str,
                 headers: Mapping[str, str] | None = None,
                 body: bytes | Callable[[], Iterable[bytes]] | None = None,
                 params: Mapping[str, str] | None = None,
                 follow_redirects: bool = False) -> httpx.Response:
        """Send once, answering one auth challenge; raise _Retry for retriable outcomes.

        `body` is bytes or a factory of a fresh iterator, so the request can be sent again
        after a 401 challenge without having buffered a streamed blob.
        """
        answered_challenge = False
        while True:
            request_headers = dict(headers or {})
            if self._same_registry(url):
                request_headers.update(self._auth_headers(scope))
            content = body() if callable(body) else body
            response = self._send(method, url, what, headers=request_headers, content=content,
                                  params=params, follow_redirects=follow_redirects)
            _log.debug("%s %s -> %d", method, _path_of(response.url), response.status_code)
            if response.status_code in RETRIABLE_STATUSES:
                raise _Retry(_describe(response), _retry_after(response))
            sent = request_headers.get("Authorization")
            if (response.status_code == 401 and not answered_challenge
                    and self._answer_challenge(response, scope, sent)):
                answered_challenge = True
                continue
            if response.status_code in (401, 403):
                raise self._auth_failure(response, what, sent is not None)
            return response

    def _send(self, method: str, url: str | httpx.URL, what: str,
              **options: object) -> httpx.Response:
        """One HTTP exchange; httpx's errors become _Retry (network) or RegistryError."""
        try:
            return self._http.request(method, url, **options)  # type: ignore[arg-type]
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise RegistryError(f"registry {self.host}: {what} could not be sent "
                                f"({type(exc).__name__}); check the registry host") from exc
        except httpx.TransportError as exc:
            # Connection refused or reset, timeouts, a peer that hung up mid-answer: the
            # request may not have arrived, so it is worth another try.
            raise _Retry(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise RegistryError(f"registry {self.host}: {what} failed "
                                f"({type(exc).__name__}); check the registry host") from exc

    def _auth_headers(self, scope: str) -> dict[str, str]:
        with self._token_lock:
            cached = self._tokens.get(scope)
        if cached and cached[1] > time.monotonic():
            return {"Authorization": f"Bearer {cached[0]}"}
        if self._use_basic and self._auth is not None:
            return {"Authorization": self._auth.header()}
        return {}

    def _answer_challenge(self, response: httpx.Response, scope: str, sent: str | None) -> bool:
        """Act on a 401's WWW-Authenticate; True when the request should be sent again.

        `sent` is the Authorization header the refused request carried, if any.
        """
        scheme, params = _parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            if self._auth is None or (sent is not None and self._use_basic):
                return False
            self._use_basic = True
            return True
        if scheme == "bearer" and params.get("realm"):
            # Parallel uploads hit the same challenge at once: the first thread fetches the
            # token, the others find a newer one than they sent and just use it.
            with self._fetch_lock:
                current = self._auth_headers(scope).get("Authorization")
                if current is None or current == sent:
                    self._fetch_token(params, scope)
            return True
        return False

    def _fetch_token(self, challenge: Mapping[str, str], scope: str) -> None:
        """Get a bearer token from the challenge's realm and cache it under our scope."""
        try:
            url = httpx.URL(challenge["realm"])
        except httpx.InvalidURL as exc:
            raise RegistryError(f"registry {self.host} names an invalid token service URL; "
                                "check the registry's auth configuration") from exc
        realm_host = url.netloc.decode("ascii", "replace")
        what = f"token request to {realm_host}"
        if url.scheme != "https" and not (url.scheme == "http" and is_loopback_host(realm_host)):
            # The realm would get our username and password: never over plain HTTP off-host.
            raise AuthError(f"registry {self.host} sends credentials to a token service over "
                            f"{url.scheme or 'no scheme'} ({realm_host}); use a registry whose "
                            "token realm is https")
        scopes = list(dict.fromkeys([*scope.split(), *challenge.get("scope", "").split()]))
        params: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if challenge.get("service"):
            params.insert(0, ("service", challenge["service"]))
        headers = {"Authorization": self._auth.header()} if self._auth else {}

        def once() -> httpx.Response:
            answer = self._send("GET", url, what, params=params, headers=headers)
            if answer.status_code in RETRIABLE_STATUSES:
                raise _Retry(_describe(answer), _retry_after(answer))
            return answer

        answer = self._retrying(what, once)
        if answer.status_code in (401, 403):
            raise AuthError(f"registry {self.host}: the token service {realm_host} refused the "
                            f"credentials ({answer.status_code}); check the username and "
                            "password")
        try:
            data = answer.json()
            token = data.get("token") or data.get("access_token")
            expires_in = float(data.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError) as exc:
            raise RegistryError(f"registry {self.host}: {what} answered "
                                f"{answer.status_code} without a token; check the registry's "
                                "auth configuration") from exc
        if answer.status_code != 200 or not isinstance(token, str) or not token:
            raise RegistryError(f"registry {self.host}: {what} answered {answer.status_code} "
                                "without a token; check the registry's auth configuration")
        # Refresh a little early so a token never expires between our check and its use.
        expiry = time.monotonic() + max(expires_in - 10.0, 1.0)
        with self._token_lock:
            self._tokens[scope] = (token, expiry)

    def _auth_failure(self, response: httpx.Response, what: str, sent: bool) -> AuthError:
        detail = self._mask(_describe(response))
        if response.status_code == 403:
            return AuthError(f"registry {self.host} denied {what} ({detail}); give these "
                             "credentials pull and push permission on the repository")
        if not sent and self._auth is None:
            return AuthError(f"registry {self.host} requires credentials ({what} answered "
                             f"{detail}); log in or pass a username and password")
        return AuthError(f"registry {self.host} refused the credentials ({what} answered "
                         f"{detail}); check the username and password (an ECR token lasts "
                         "12 hours)")

    def _failure(self, response: httpx.Response, what: str) -> RegistryError:
        codes = [code for code, _ in _registry_errors(response)]
        fix = next((_FIXES[code] for code in codes if code in _FIXES), None)
        if fix is None:
            fix = ("check the repository name and reference" if response.status_code == 404
                   else _DEFAULT_FIX)
        return RegistryError(f"registry {self.host}: {what} answered "
                             f"{self._mask(_describe(response))}; {fix}")

    def _mask(self, text: str) -> str:
        """Hide our password and tokens should a registry ever echo them back."""
        with self._token_lock:
            secrets = [token for token, _ in self._tokens.values()]
        if self._auth is not None:
            secrets.append(self._auth.password)
        for secret in secrets:
            # A very short password would mask ordinary letters; such a leak cannot happen
            # through a message that only echoes our own request's fragments anyway.
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    # --- small helpers -------------------------------------------------------------------

    def _manifest_url(self, repository: str, reference: str) -> str:
        return f"{self.base_url}/v2/{repository}/manifests/{reference}"

    def _same_registry(self, url: str | httpx.URL) -> bool:
        try:
            return httpx.URL(str(url)).netloc.decode("ascii", "replace") == self.host
        except httpx.InvalidURL:
            return False

    def _checked_url(self, url: str, what: str) -> str:
        """A URL the registry gave us, refused when it would leave TLS for another host."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise RegistryError(f"registry {self.host}: {what} answered with an invalid "
                                "Location; the registry does not follow the distribution "
                                "spec") from exc
        host = parsed.netloc.decode("ascii", "replace")
        if parsed.scheme != "https" and not (parsed.scheme == "http" and is_loopback_host(host)):
            raise RegistryError(f"registry {self.host}: {what} sent us to a non-HTTPS URL on "
                                f"{host}; refusing to upload without TLS")
        return url

    def _next_page(self, response: httpx.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        url = urljoin(str(response.url), link)
        if not self._same_registry(url):
            raise RegistryError(f"registry {self.host}: the tag list links to another host; "
                                "refusing to follow it")
        return url

    def _emit(self, event: ProgressEvent) -> None:
        if self._progress is None:
            return
        # Worker threads report concurrently; serialising here lets the callback be simple.
        with self._progress_lock:
            self._progress(event)


def _results(futures: Sequence[Future[_T]]) -> list[_T]:
    """Results of futures in order; the first failure is raised and the rest cancelled."""
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for future in futures:
        if future in done and future.exception() is not None:
            for other in pending:
                other.cancel()
            raise future.exception()  # type: ignore[misc]
    return [future.result() for future in futures]


def _media_type(response: httpx.Response, content: bytes) -> str:
    header = response.headers.get("Content-Type", "").split(";")[0].strip()
    if header in MANIFEST_MEDIA_TYPES:
        return header
    try:
        declared = json.loads(content).get("mediaType")
    except (ValueError, AttributeError):
        declared = None
    return declared if isinstance(declared, str) and declared else header


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _push(repository: str) -> str:
    return f"repository:{repository}:pull,push"


def _check_repository(repository: str) -> None:
    if not _REPOSITORY.match(repository) or len(repository) > 255:
        raise UsageError(f"{repository!r} is not a valid repository name; use lowercase "
                         "letters, digits and '.', '_', '-' separators, with '/' for paths")


def _check_tag(tag: str) -> None:
    if not _TAG.match(tag):
        raise UsageError(f"{tag!r} is not a valid image tag; use up to 128 letters, digits, "
                         "'_', '.' and '-' (no '+': rewrite semver build metadata)")


def _check_digest(digest: str) -> None:
    if not _DIGEST.match(digest):
        raise UsageError(f"{digest!r} is not a sha256 digest; pass sha256:<64 hex digits>")


def _check_reference(reference: str) -> None:
    if not (_DIGEST.match(reference) or _TAG.match(reference)):
        raise UsageError(f"{reference!r} is neither an image tag nor a sha256 digest; pass "
                         "e.g. 1.2.0 or sha256:<64 hex digits>")
