"""Pushing an OCI layout: blobs (skip, mount or upload), child manifests, then tags.

The order is what the registry needs: a manifest is accepted only once its blobs (and an
index only once its children) are in the repository. A registry that holds the top-level
manifest therefore holds everything below it, so a push of what is already there is one
parallel round of HEAD requests (the top manifest and the tags) and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import httpx

from shipyard.adapters.oci_layout import Descriptor, OciLayout
from shipyard.adapters.registry.answers import is_immutable_rejection
from shipyard.adapters.registry.events import (
    BlobDone,
    BlobSkipped,
    ManifestPushed,
    ProgressEvent,
    PushReport,
    TagSet,
    TagSkipped,
)
from shipyard.adapters.registry.names import DIGEST, push_scope
from shipyard.adapters.registry.tag_writes import UniqueTagWrites
from shipyard.adapters.registry.transport import Session
from shipyard.adapters.registry.uploads import BlobUploads, check_stored_digest
from shipyard.errors import ConflictError, RegistryError

_T = TypeVar("_T")


class Reader(Protocol):
    """The read calls a push needs (RegistryClient's)."""

    def blob_exists(self, repository: str, digest: str) -> bool: ...

    def manifest_digest(self, repository: str, reference: str) -> str | None: ...


@dataclass
class _PushState:
    """Shared between the worker threads of one push."""

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


@dataclass
class KnownBlobs:
    """(repository, digest) pairs a client has seen in the registry, shared by its pushes."""

    present: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self.present

    def add(self, key: tuple[str, str]) -> None:
        with self.lock:
            self.present.add(key)


class BlobNotMounted(RegistryError):
    """A layer the layout does not hold (it names another repository's blob) was not mounted.

    Raised before any blob is uploaded or manifest written, so a caller that still has the
    image's own layers can push those instead.
    """


class Push:
    """One `push_layout` call: its worker pool, its report, and the requests it makes."""

    def __init__(self, session: Session, reader: Reader, known: KnownBlobs,
                 emit: Callable[[ProgressEvent], None], base_url: str, concurrency: int,
                 layout: OciLayout, repository: str, tags: list[str],
                 mount_from: str | None, unique_tags: frozenset[str] = frozenset(),
                 fresh: bool = False, guarded_tags: frozenset[str] = frozenset()) -> None:
        self.session, self.reader, self.known, self.emit = session, reader, known, emit
        self.base_url = base_url
        self.layout, self.repository, self.tags = layout, repository, tags
        self.mount_from = mount_from
        self.unique_tags = unique_tags
        self.guarded_tags = guarded_tags  # the registry refuses to overwrite these itself
        # A repository this push just created holds no blob and no manifest: asking is a
        # round trip on every blob's path for nothing (sending one twice is harmless).
        self.fresh = fresh
        self.concurrency = concurrency
        self.state = _PushState(PushReport(repository=repository, digest=layout.digest,
                                           media_type=layout.media_type,
                                           platforms=layout.platforms))
        self.uploads = BlobUploads(session, emit, base_url, repository, layout,
                                   self.state.abort)

    def run(self) -> PushReport:
        retries_before = self.session.retries
        pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                  thread_name_prefix="shipyard-push")
        try:
            self._run(pool)
        except BaseException:
            self.state.abort.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        self.state.report.retries = self.session.retries - retries_before
        return self.state.report

    def _run(self, pool: ThreadPoolExecutor) -> None:
        layout, repository, state = self.layout, self.repository, self.state
        top = layout.top
        # Where things stand, in one parallel round: the image by digest and every tag.
        top_head = pool.submit(self.reader.manifest_digest, repository, top.digest)
        tag_heads = {tag: pool.submit(self.reader.manifest_digest, repository, tag)
                     for tag in self.tags}
        for tag in self.tags:
            if tag in self.unique_tags:
                now = _results([tag_heads[tag]])[0]
                if now is not None and now != top.digest:
                    raise ConflictError(
                        f"image tag {repository}:{tag} already points at {now[:19]}…, another "
                        "image; versions are never overwritten: choose another version")
        if _results([top_head])[0] == top.digest:
            # The registry refuses a manifest whose blobs or children are missing, so it
            # holds all of them: nothing below the top needs asking about.
            for blob in layout.blobs():
                self.known.add((repository, blob.digest))
                state.count("present")
                self.emit(BlobSkipped(blob.digest, blob.size))
        else:
            self._push_below_top(pool)
            if not self.tags:
                self._put_manifest(repository, top.digest, layout.top_content, top)
        versions = UniqueTagWrites(
            self.session, self.reader, self.base_url, repository, layout,
            lambda answer, tag, what: self._manifest_written(
                answer, repository, tag, layout.top_content, top, what),
            guarded=self.guarded_tags)
        for tag in self.tags:
            if _results([tag_heads[tag]])[0] == top.digest:
                state.report.tags_skipped.append(tag)
                self.emit(TagSkipped(tag, top.digest))
            elif tag in self.unique_tags:
                versions.put(tag)
            else:
                self._tags_set(versions.confirm(pool))  # no moving tag before the versions
                self._put_manifest(repository, tag, layout.top_content, top)
                self._tags_set([tag])
        self._tags_set(versions.confirm(pool))

    def _tags_set(self, tags: list[str]) -> None:
        for tag in tags:
            self.state.report.tags_set.append(tag)
            self.emit(TagSet(tag, self.layout.top.digest))

    def _push_below_top(self, pool: ThreadPoolExecutor) -> None:
        """Blobs, then the index's child manifests that the registry does not hold yet."""
        layout, repository = self.layout, self.repository
        child_heads = {} if self.fresh else {child.descriptor.digest: pool.submit(
            self.reader.manifest_digest, repository, child.descriptor.digest)
            for child in layout.children}
        # Largest first, so that the last upload to finish is not a big one started late.
        blobs = sorted(layout.blobs(), key=lambda blob: -blob.size)
        # Layers the layout does not hold must be mounted: they go first, so a refused mount
        # stops the push before any bytes go up.
        _results([pool.submit(self._ensure_blob, blob) for blob in blobs
                  if blob.digest in layout.external])
        _results([pool.submit(self._ensure_blob, blob) for blob in blobs
                  if blob.digest not in layout.external])
        missing = [child for child in layout.children
                   if self.fresh or _results([child_heads[child.descriptor.digest]])[0]
                   != child.descriptor.digest]
        _results([pool.submit(self._put_manifest, repository, child.descriptor.digest,
                              child.content, child.descriptor)
                  for child in missing])

    def _ensure_blob(self, blob: Descriptor) -> None:
        """Make one blob present in the repository: skip, mount or upload it."""
        repository, source = self.repository, self.mount_from
        key = (repository, blob.digest)
        if key in self.known or (not self.fresh
                                 and self.reader.blob_exists(repository, blob.digest)):
            outcome = "present"
            self.emit(BlobSkipped(blob.digest, blob.size))
        else:
            uploads = self.uploads
            session = uploads.mount(blob, source) if source and source != repository else None
            if session is True:
                outcome = "mounted"
                self.emit(BlobDone(blob.digest, blob.size, mounted=True))
            elif blob.digest in self.layout.external:
                if isinstance(session, str):
                    uploads.cancel(session)
                raise self._not_mounted(blob)
            else:
                uploads.upload(blob, session or None)
                outcome = "uploaded"
                self.emit(BlobDone(blob.digest, blob.size))
        self.known.add(key)
        self.state.count(outcome, blob.size if outcome == "uploaded" else 0)

    def _not_mounted(self, blob: Descriptor) -> BlobNotMounted:
        # Never uploaded instead: the layout does not hold the blob (it names the base
        # image's), and fetching it would make the push depend on a download.
        source = self.mount_from if self.mount_from != self.repository else None
        return BlobNotMounted(
            f"layer {blob.digest} is not in the OCI layout, and {self.session.host} did not "
            f"mount it into {self.repository} from {source or 'another repository (none named)'}"
            "; allow cross-repository mounts (ECR: `aws ecr put-account-setting --name "
            "BLOB_MOUNTING --value ENABLED`, both repositories with the same encryption) and "
            "pull access to the base image's repository, then push again")

    def _put_manifest(self, repository: str, reference: str, content: bytes,
                      descriptor: Descriptor) -> None:
        """PUT a manifest's exact bytes under a digest or tag, then verify its digest."""
        what = f"PUT /v2/{repository}/manifests/{reference}"
        response = self.session.call(
            "PUT", f"{self.base_url}/v2/{repository}/manifests/{reference}",
            scope=push_scope(repository), what=what, body=content,
            headers={"Content-Type": descriptor.media_type})
        self._manifest_written(response, repository, reference, content, descriptor, what)

    def _manifest_written(self, response: httpx.Response, repository: str, reference: str,
                          content: bytes, descriptor: Descriptor, what: str) -> None:
        """Check a manifest PUT's answer: refused, an immutable tag, or the stored digest."""
        if response.status_code not in (200, 201):
            if not DIGEST.match(reference) and is_immutable_rejection(response):
                raise ConflictError(f"image tag {repository}:{reference} is immutable and "
                                    "already points at another image; choose another version")
            raise self.session.failure(response, what)
        check_stored_digest(self.session.host, response, descriptor.digest, what)
        self.state.manifest_pushed(len(content))
        self.emit(ManifestPushed(descriptor.digest, descriptor.media_type, reference))


def _results(futures: Sequence[Future[_T]]) -> list[_T]:
    """Results of futures in order; the first failure is raised and the rest cancelled."""
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for future in futures:
        if future in done and future.exception() is not None:
            for other in pending:
                other.cancel()
            raise future.exception()  # type: ignore[misc]
    return [future.result() for future in futures]
