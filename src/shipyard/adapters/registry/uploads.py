"""Blob uploads of one push: cross-repository mounts, monolithic POST+PUT, cancelling.

ECR answers 201 to chunked `PATCH` uploads and then drops later chunks, so an upload is one
POST for a session and one PUT streaming the whole blob from disk. A session given up (a
failed or retried PUT, an upload cut short because the push failed elsewhere, the session a
refused mount opened) is cancelled with DELETE, best effort.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urljoin

import httpx

from shipyard.adapters.oci_layout import Descriptor, OciLayout
from shipyard.adapters.registry.answers import registry_errors
from shipyard.adapters.registry.events import BlobAdvanced, BlobStarted, ProgressEvent
from shipyard.adapters.registry.names import path_of, pull_scope, push_scope, with_digest
from shipyard.adapters.registry.transport import Retry, Session
from shipyard.errors import RegistryError, ShipyardError

_log = logging.getLogger("shipyard.adapters.registry")
DIGEST_HEADER = "Docker-Content-Digest"
# Cancelling an abandoned upload is a courtesy: it must not hold up the failure it follows.
_CANCEL_SECONDS = 5.0


class _Aborted(Exception):
    """Stops an upload stream because the push already failed elsewhere."""


def check_stored_digest(host: str, response: httpx.Response, expected: str, what: str) -> None:
    """Refuse an answer naming another digest than the one we sent.

    The registry names what it stored; if that differs from what we computed, the bytes
    changed on the way and a tag would point at something we never built. A registry that
    omits the header is taken at its 201: for blobs it has checked the `?digest=` we sent,
    and for manifests it stores the exact bytes we sent.
    """
    stored = response.headers.get(DIGEST_HEADER)
    if stored is not None and stored != expected:
        raise RegistryError(f"registry {host}: {what} stored digest {stored} but we sent "
                            f"{expected}; something altered the content, push again")


def _altered_on_the_way(response: httpx.Response) -> bool:
    """True when the registry refused a blob's content as not matching its digest. The
    stream checked that digest on every byte it sent (`OciLayout.iter_blob` raises before the
    request completes otherwise), so the bytes changed between us and the registry: a proxy,
    a bad link. Sending them again, in a fresh session, is the fix."""
    return response.status_code == 400 and any(
        code == "DIGEST_INVALID" for code, _ in registry_errors(response))


class BlobUploads:
    """Mounts and uploads of a layout's blobs into one repository; thread-safe."""

    def __init__(self, session: Session, emit: Callable[[ProgressEvent], None],
                 base_url: str, repository: str, layout: OciLayout,
                 abort: threading.Event) -> None:
        self.session, self.emit, self.base_url = session, emit, base_url
        self.repository, self.layout, self.abort = repository, layout, abort

    def mount(self, blob: Descriptor, source: str) -> bool | str:
        """Try a cross-repository mount: True when mounted (a verified 201 Created), else the
        upload session the registry opened instead (202), or False."""
        repository = self.repository
        what = f"POST /v2/{repository}/blobs/uploads/ (mount from {source})"
        try:
            response = self.session.attempt(
                "POST", f"{self.base_url}/v2/{repository}/blobs/uploads/",
                params={"mount": blob.digest, "from": source},
                scope=f"{push_scope(repository)} {pull_scope(source)}", what=what)
        except (Retry, ShipyardError) as exc:
            # A mount is only an optimisation: any failure (no pull access to the source, a
            # registry without mount support, an outage) falls back to a normal upload.
            _log.debug("mount of %s failed (%s); uploading instead", blob.digest, exc)
            return False
        if response.status_code == 202:
            # The registry did not mount, and opened an upload session instead (the source
            # lacks the blob, or we may not read it): the upload uses it, so a mount that
            # fails costs no extra round trip.
            try:
                return self._location(response, what)
            except ShipyardError:
                return False
        if response.status_code != 201:
            return False
        return response.headers.get(DIGEST_HEADER, blob.digest) == blob.digest

    def upload(self, blob: Descriptor, session: str | None = None) -> None:
        """Monolithic upload: POST for a session (unless a failed mount opened one), then one
        PUT streaming the whole blob. A retry always starts a fresh session."""
        what = f"upload of blob {blob.digest} to {self.repository}"
        attempts = 0

        def once() -> None:
            nonlocal attempts
            attempts += 1
            location = session if session and attempts == 1 else self._start_upload()
            self.emit(BlobStarted(blob.digest, blob.size, attempts))
            put_what = f"PUT {path_of(location)}"
            completed = False
            try:
                response = self.session.attempt(
                    "PUT", with_digest(location, blob.digest),
                    scope=push_scope(self.repository), what=put_what,
                    # Content-Length with an iterator body keeps httpx from chunked encoding;
                    # the body is a generator reading the file, never the whole blob at once.
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Length": str(blob.size)},
                    body=lambda: self._blob_body(blob))
                if _altered_on_the_way(response):
                    raise Retry(f"{put_what} answered 400 DIGEST_INVALID: the bytes were "
                                "altered on the way")
                if response.status_code != 201:
                    raise self.session.failure(response, put_what)
                completed = True
            finally:
                if not completed:  # failed, retried with a fresh session, or aborted
                    self.cancel(location)
            check_stored_digest(self.session.host, response, blob.digest, put_what)

        self.session.retrying(what, once)

    def cancel(self, location: str) -> None:
        """End an upload session we abandon, best effort: otherwise the registry keeps it
        (distribution keeps its folder until the weekly purge). A failure changes nothing:
        distribution 2.8, for one, refuses to cancel a session whose PUT wrote data (its
        Location's state no longer matches), and ECR lets sessions expire."""
        what = f"DELETE {path_of(location)}"
        try:
            self.session.attempt("DELETE", location, scope=push_scope(self.repository),
                                 what=what, timeout=_CANCEL_SECONDS)
        except (Retry, ShipyardError) as exc:
            _log.debug("%s failed (%s); the registry expires the session itself", what, exc)

    def _start_upload(self) -> str:
        what = f"POST /v2/{self.repository}/blobs/uploads/"
        response = self.session.attempt(
            "POST", f"{self.base_url}/v2/{self.repository}/blobs/uploads/",
            scope=push_scope(self.repository), what=what)
        if response.status_code != 202:
            raise self.session.failure(response, what)
        return self._location(response, what)

    def _location(self, response: httpx.Response, what: str) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.session.host}: {what} answered 202 without a "
                                "Location header; the registry does not follow the "
                                "distribution spec")
        # Location may be absolute (distribution, ECR) or relative to the request (allowed).
        return self.session.checked_url(urljoin(str(response.url), location), what)

    def _blob_body(self, blob: Descriptor) -> Iterator[bytes]:
        for chunk in self.layout.iter_blob(blob):
            if self.abort.is_set():
                raise _Aborted(blob.digest)
            yield chunk
            self.emit(BlobAdvanced(blob.digest, len(chunk)))
