"""Version tags: guarded by the registry, or checked right before the PUT and read back after.

The distribution API has no compare-and-swap on tags: a manifest PUT under a tag overwrites
whatever the tag held, so in a mutable repository two pipelines can both find a version free.
Checking again right before the PUT (and before each retry of it) leaves only the time
between that answer and the PUT for another pipeline to slip in; reading the tags back a
moment after writing them catches a writer that did, and this push then fails instead of
claiming another image's tag.

A tag the repository keeps immutable (ECR's IMMUTABLE, or a version tag outside the
mutability exclusions) needs neither: the registry refuses the second PUT itself, which is
the only atomic answer there is, so such a tag is simply PUT (checked only before a retry,
whose earlier attempt may have landed with its answer lost, and after a refusal, which ECR
also gives when the tag already holds this very image).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import httpx

from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry.answers import is_immutable_rejection
from shipyard.adapters.registry.names import push_scope
from shipyard.adapters.registry.transport import Session
from shipyard.errors import ConflictError

# The pause before reading back: twice the slowest check and PUT, within these bounds. A
# pipeline whose check answered just before our PUT landed sends its own PUT about one round
# trip later; the pause lets that overwrite arrive before we look. The floor is generous
# because that other pipeline may be a process descheduled on a busy machine for a while
# between its check and its PUT (50 ms was seen losing on a loaded 2-core runner); only
# mutable repositories pay it.
_SETTLE_MIN, _SETTLE_MAX = 0.25, 2.0


class TagReader(Protocol):
    def manifest_digest(self, repository: str, reference: str) -> str | None: ...


class UniqueTagWrites:
    """The version tags one push writes: `put` each, then `confirm` them all at once.

    `guarded` are the tags the registry itself refuses to overwrite.
    """

    def __init__(self, session: Session, reader: TagReader, base_url: str, repository: str,
                 layout: OciLayout,
                 written: Callable[[httpx.Response, str, str], None],
                 guarded: Collection[str] = ()) -> None:
        self.session, self.reader, self.base_url = session, reader, base_url
        self.repository, self.layout = repository, layout
        self._written = written  # checks a manifest PUT's answer (response, tag, what)
        self._guarded = frozenset(guarded)
        self._pending: list[str] = []  # put since the last confirm, in order
        self._unread: list[str] = []  # of those, the ones to read back
        self._slowest = 0.0

    def put(self, tag: str) -> None:
        """Check that the tag is still free (or ours), then PUT the top manifest under it."""
        repository, top = self.repository, self.layout.top
        what = f"PUT /v2/{repository}/manifests/{tag}"
        guarded = tag in self._guarded
        attempts = 0

        def once() -> httpx.Response | None:
            nonlocal attempts
            attempts += 1
            if guarded and attempts == 1:  # the registry refuses an overwrite by itself
                answer = self._attempt_put(tag, what)
                # ...and ECR refuses a PUT of the very image the tag already holds, too: a
                # push of the same image racing this one is no conflict
                if not (is_immutable_rejection(answer)
                        and self.reader.manifest_digest(repository, tag) == top.digest):
                    return answer
                return None
            now = self.reader.manifest_digest(repository, tag)
            if now == top.digest:
                return None  # an earlier attempt's PUT arrived; its answer was lost
            if now is not None:
                raise ConflictError(
                    f"image tag {repository}:{tag} was set to {now[:19]}…, another image, by "
                    "another push while this one uploaded; versions are never overwritten: "
                    "choose another version")
            return self._attempt_put(tag, what)

        started = time.monotonic()
        response = self.session.retrying(what, once)
        if response is not None:
            self._written(response, tag, what)
        self._pending.append(tag)
        if not guarded:
            self._slowest = max(self._slowest, time.monotonic() - started)
            self._unread.append(tag)

    def _attempt_put(self, tag: str, what: str) -> httpx.Response:
        return self.session.attempt(
            "PUT", f"{self.base_url}/v2/{self.repository}/manifests/{tag}",
            scope=push_scope(self.repository), what=what, body=self.layout.top_content,
            headers={"Content-Type": self.layout.top.media_type})

    def confirm(self, pool: ThreadPoolExecutor) -> list[str]:
        """Every tag put since the last call, in order, once those the registry does not guard
        were read back after a pause.

        Raises ConflictError when one points elsewhere now: another push won the race.
        """
        tags, unread = self._pending, self._unread
        self._pending, self._unread = [], []
        if not unread:
            return tags
        self.session.pause(min(_SETTLE_MAX, max(_SETTLE_MIN, 2 * self._slowest)))
        self._slowest = 0.0
        reads = [pool.submit(self.reader.manifest_digest, self.repository, tag)
                 for tag in unread]
        top = self.layout.top.digest
        for tag, read in zip(unread, reads, strict=True):
            after = read.result()
            if after != top:
                now = f"points at {after[:19]}…" if after else "is gone"
                raise ConflictError(
                    f"image tag {self.repository}:{tag} was written by another push at the "
                    f"same moment and now {now}, not this image ({top[:19]}…); this push lost "
                    "the race and moved no other tag: choose another version")
        return tags
