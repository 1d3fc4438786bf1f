"""RegistryClient: one registry host; the read API here, pushing in `push.py`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from shipyard.adapters.oci_layout import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    OciLayout,
    sha256_digest,
)
from shipyard.adapters.registry.answers import media_type
from shipyard.adapters.registry.auth import Authenticator
from shipyard.adapters.registry.deadline import RequestDeadline
from shipyard.adapters.registry.events import (
    BasicAuth,
    ProgressCallback,
    ProgressEvent,
    PushReport,
)
from shipyard.adapters.registry.names import (
    DIGEST,
    base_url,
    check_digest,
    check_reference,
    check_repository,
    check_tag,
    pull_scope,
)
from shipyard.adapters.registry.push import KnownBlobs, Push
from shipyard.adapters.registry.transport import Session, http_client
from shipyard.adapters.registry.uploads import DIGEST_HEADER
from shipyard.errors import RegistryError, UsageError

# HEAD/GET of a manifest must list every type we can handle; a registry picks the stored type
# only if it is acceptable, and otherwise may answer 404 or convert it (distribution 2.x turns
# an index into one platform's schema 2 manifest for clients that do not accept indexes).
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))
_MAX_TAG_PAGES = 10_000


class RegistryClient:
    """A client for one registry host; thread-safe, to be closed (or used as a context manager).

    Example::

        with RegistryClient("127.0.0.1:5000", auth=BasicAuth("u", "p")) as registry:
            report = registry.push_layout(OciLayout.open("build/oci"), "gamepulse", ["1.2.0"])
            report.digest, report.tags_set

    Credentials go out once the registry's 401 asked for them, unless `basic_first=True`
    says the registry takes Basic auth (ECR always does): then they go with the first request.

    Every wait is bounded: `timeout` (connect, read, write, pool; `deadline.REGISTRY_TIMEOUT`
    by default) and `deadline` for a whole request; a request silent for `wait_notice`
    seconds is reported as a `RequestWaiting` event, again every 10 s while it waits.
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
        basic_first: bool = False,
        deadline: RequestDeadline | None = None,
        wait_notice: float = 5.0,
    ) -> None:
        if concurrency < 1 or max_retries < 0:
            raise UsageError("registry concurrency must be at least 1 and retries at least 0; "
                             "pass e.g. concurrency=5, max_retries=5")
        self.host, self.base_url = base_url(host, insecure_loopback)
        self._auth = BasicAuth(*auth) if isinstance(auth, tuple) else auth
        self._concurrency = concurrency
        self._progress = progress
        self._progress_lock = threading.Lock()
        self._known_blobs = KnownBlobs()
        self._session = Session(
            self.host,
            http_client(self.base_url, transport, concurrency + 2, timeout, deadline),
            Authenticator(self.host, self._auth, basic_first=basic_first),
            max_retries=max_retries, sleep=sleep,
            backoff_base=backoff_base, backoff_cap=backoff_cap,
            max_retry_after=max_retry_after, emit=self._emit, wait_notice=wait_notice)

    @property
    def retries(self) -> int:
        """Requests retried so far, over the client's whole life."""
        return self._session.retries

    def __repr__(self) -> str:
        return f"RegistryClient(host={self.host!r}, auth={self._auth!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.http.close()

    # --- read API ------------------------------------------------------------------------

    def check_auth(self) -> None:
        """GET /v2/: raises AuthError unless the credentials (or anonymous access) work."""
        what = "GET /v2/"
        response = self._session.call("GET", f"{self.base_url}/v2/", scope="", what=what)
        if response.status_code != 200:
            raise self._session.failure(response, what)

    def blob_exists(self, repository: str, digest: str) -> bool:
        """HEAD a blob: True when the repository holds it."""
        check_repository(repository)
        check_digest(digest)
        what = f"HEAD /v2/{repository}/blobs/{digest}"
        # Registries on object storage (ECR, S3-backed distribution) may redirect blob reads.
        response = self._session.call(
            "HEAD", f"{self.base_url}/v2/{repository}/blobs/{digest}",
            scope=pull_scope(repository), what=what, follow_redirects=True)
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise self._session.failure(response, what)

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest a tag (or digest) resolves to, or None when the registry has no such."""
        check_repository(repository)
        check_reference(reference)
        what = f"HEAD /v2/{repository}/manifests/{reference}"
        response = self._session.call(
            "HEAD", self._manifest_url(repository, reference), scope=pull_scope(repository),
            what=what, headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._session.failure(response, what)
        digest = response.headers.get(DIGEST_HEADER)
        if digest:
            return digest
        # The header is optional for HEAD in the spec; the bytes are the truth.
        return self.get_manifest(repository, reference)[2]

    def manifest_digests(self, repository: str,
                         references: Sequence[str]) -> dict[str, str | None]:
        """`manifest_digest` of each tag or digest, asked in parallel (one round trip)."""
        check_repository(repository)
        for reference in references:
            check_reference(reference)
        unique = list(dict.fromkeys(references))
        if len(unique) <= 1:
            return {ref: self.manifest_digest(repository, ref) for ref in unique}
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(unique)),
                                thread_name_prefix="shipyard-head") as pool:
            found = list(pool.map(lambda ref: self.manifest_digest(repository, ref), unique))
        return dict(zip(unique, found, strict=True))

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest; the digest is computed from the bytes."""
        check_repository(repository)
        check_reference(reference)
        what = f"GET /v2/{repository}/manifests/{reference}"
        response = self._session.call(
            "GET", self._manifest_url(repository, reference), scope=pull_scope(repository),
            what=what, headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code != 200:
            raise self._session.failure(response, what)
        content = response.content
        if len(content) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"registry {self.host}: {what} returned {len(content)} bytes, "
                                "more than a manifest may have; check the reference")
        digest = sha256_digest(content)
        if DIGEST.match(reference) and digest != reference:
            raise RegistryError(f"registry {self.host}: {what} returned content with digest "
                                f"{digest}; the registry or a proxy altered it, try again")
        return content, media_type(response, content), digest

    def get_small_blob(self, repository: str, digest: str, max_bytes: int = MAX_CONFIG_BYTES
                       ) -> bytes:
        """A small blob (an image config), read whole and checked against its digest."""
        check_repository(repository)
        check_digest(digest)
        what = f"GET /v2/{repository}/blobs/{digest}"
        response = self._session.call(
            "GET", f"{self.base_url}/v2/{repository}/blobs/{digest}",
            scope=pull_scope(repository), what=what, follow_redirects=True)
        if response.status_code != 200:
            raise self._session.failure(response, what)
        content = response.content
        if len(content) > max_bytes:
            raise RegistryError(f"registry {self.host}: {what} returned {len(content)} bytes, "
                                f"more than the {max_bytes} expected; check the digest")
        if sha256_digest(content) != digest:
            raise RegistryError(f"registry {self.host}: {what} returned other content than "
                                "its digest names; the registry or a proxy altered it")
        return content

    def list_tags(self, repository: str, page_size: int = 1000) -> list[str]:
        """Every tag of a repository, following `Link: <…>; rel="next"` pages; [] if unknown."""
        check_repository(repository)
        url: str | None = f"{self.base_url}/v2/{repository}/tags/list?n={page_size}"
        tags: list[str] = []
        seen: set[str] = set()
        while url and url not in seen and len(seen) < _MAX_TAG_PAGES:
            seen.add(url)
            what = f"GET /v2/{repository}/tags/list"
            response = self._session.call("GET", url, scope=pull_scope(repository), what=what)
            if response.status_code == 404 and not tags:
                return []
            if response.status_code != 200:
                raise self._session.failure(response, what)
            try:
                page = response.json().get("tags") or []
            except (ValueError, AttributeError) as exc:
                raise RegistryError(f"registry {self.host}: {what} did not return a JSON tag "
                                    "list; check that HOST is an OCI registry") from exc
            tags.extend(str(tag) for tag in page)
            url = self._session.next_page(response)
        return tags

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest; False when it was not there (already deleted)."""
        check_repository(repository)
        if not DIGEST.match(digest):
            raise UsageError(f"delete_manifest needs a sha256 digest, not {digest!r}; resolve "
                             "a tag with manifest_digest first")
        what = f"DELETE /v2/{repository}/manifests/{digest}"
        response = self._session.call("DELETE", self._manifest_url(repository, digest),
                                      scope=f"repository:{repository}:delete", what=what)
        if response.status_code in (200, 202, 204):
            return True
        if response.status_code == 404:
            return False
        raise self._session.failure(response, what)

    # --- push ----------------------------------------------------------------------------

    def push_layout(self, layout: OciLayout, repository: str, tags: Sequence[str], *,
                    mount_from: str | None = None,
                    unique_tags: Collection[str] = (), fresh: bool = False,
                    guarded_tags: Collection[str] = ()) -> PushReport:
        """Push every blob and manifest of `layout`, then point each of `tags` at it.

        Blobs already present are skipped; with `mount_from` missing blobs are first mounted
        from that repository of the same registry (and must be, when the layout does not hold
        them: `layout.external`). Index children are pushed by digest, then
        the top-level manifest under each tag, in the given order (so a conflict on a version
        tag stops before a moving tag such as `latest` changes). Without tags the top-level
        manifest is pushed by digest.

        `unique_tags` (version tags) must be absent or already on this image when the push
        starts, checked with the same HEADs, before any upload. Those the repository keeps
        immutable are named again in `guarded_tags`: the registry refuses their second PUT
        itself. Each other one is checked again right before its PUT and read back a moment
        after it, so of two pipelines racing for a version one fails with ConflictError.

        `fresh=True` says the repository was just created, so no blob or child manifest is
        asked about before it is sent (the top manifest and the tags still are).

        Raises ConflictError when an immutable or unique tag already points at another image,
        AuthError when credentials are refused, RegistryError for anything else the
        registry refuses or keeps failing at.
        """
        check_repository(repository)
        if mount_from is not None:
            check_repository(mount_from)
        tags = list(dict.fromkeys(tags))
        for tag in tags:
            check_tag(tag)
        return Push(self._session, self, self._known_blobs, self._emit, self.base_url,
                    self._concurrency, layout, repository, tags, mount_from,
                    frozenset(unique_tags), fresh, frozenset(guarded_tags)).run()

    # --- small helpers -------------------------------------------------------------------

    def _manifest_url(self, repository: str, reference: str) -> str:
        return f"{self.base_url}/v2/{repository}/manifests/{reference}"

    def _emit(self, event: ProgressEvent) -> None:
        if self._progress is None:
            return
        # Worker threads report concurrently; serialising here lets the callback be simple.
        with self._progress_lock:
            self._progress(event)
