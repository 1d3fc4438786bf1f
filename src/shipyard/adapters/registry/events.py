"""What the registry client reports and takes: progress events, the push report, credentials.

These are plain dataclasses without any HTTP in them, so a progress display (the CLI's bars)
can import them cheaply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shipyard.adapters.credentials import BasicAuth

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
    "RequestRetried",
    "RequestWaiting",
    "TagSet",
    "TagSkipped",
]



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


@dataclass(frozen=True)
class RequestWaiting:
    """A request has had no answer (nor sent body bytes) for `seconds`; it is still going."""

    what: str
    seconds: float


ProgressEvent = (BlobStarted | BlobAdvanced | BlobDone | BlobSkipped | ManifestPushed | TagSet
                 | TagSkipped | RequestRetried | RequestWaiting)
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
