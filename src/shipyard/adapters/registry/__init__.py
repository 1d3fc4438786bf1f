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
    HEAD   /v2/<repo>/manifests/<ref>             manifest_digest(s): where tags point
    GET    /v2/<repo>/manifests/<ref>             get_manifest
    PUT    /v2/<repo>/manifests/<ref>             push a manifest, set a tag
    DELETE /v2/<repo>/manifests/<digest>          delete_manifest
    GET    /v2/<repo>/tags/list                   list_tags (paginated by Link headers)

What it does about the registries we push to:

* ECR answers 201 to chunked `PATCH` uploads and then drops later chunks, so uploads are
  monolithic: one POST, then one PUT streaming the whole blob from disk with Content-Length.
* The top-level manifest is HEADed by digest first: a registry holding it holds every blob
  and child below it (it refuses manifests whose content is missing), so a repeated push is
  one parallel round of HEAD requests (that manifest and the tags) and nothing else.
* Otherwise blobs are HEADed and skipped when present; a cross-repository mount is tried when
  the caller names a source repository, and any failure of it falls back to a normal upload,
  except for layers the layout does not hold (`OciLayout.external`, a base image's blobs):
  those are mounted first, and a refused mount stops the push before any upload.
* Up to `concurrency` (default 5) blobs move at once, largest first, over one pooled,
  thread-safe, keep-alive httpx.Client; each blob is read from disk once per attempt, in 1 MiB
  chunks, and hashed on the way (hashlib releases the GIL for such chunks).
* 408, 429 and 5xx answers and connection resets are retried with exponential backoff and
  jitter, honouring `Retry-After`; a retried upload restarts with a fresh POST, because an
  upload session that failed half-way cannot be trusted.
* The registry's `Docker-Content-Digest` must equal ours for every blob and manifest we PUT.
* A multi-arch index is pushed bottom-up: blobs, then each child manifest by digest, then the
  index under each tag. A tag that already points at our digest is not written again.
* ECR rejects overwriting an immutable tag with `400 TAG_INVALID`; that becomes ConflictError.
  In a mutable repository a version tag is checked again right before its PUT and read back
  after, so a racing pipeline's overwrite fails this push (no compare-and-swap exists).
* Every wait is bounded (connect 10 s, read and write 60 s, pool 30 s, and a deadline per
  whole request, `deadline.py`); a request silent for 5 s is reported while it waits
  (`RequestWaiting`, from `waits.py`), and a stalled first request holds others 5 s at most.
* Abandoned upload sessions are cancelled with DELETE, best effort.
* Credentials go out once the registry's 401 challenge asked for them (Basic, or Bearer tokens
  per scope from its token service); until then the first request goes alone, so parallel
  requests do not all collect the same 401 or send a blob body twice.
* Plain HTTP only for loopback registries (the sandbox), which then never load a CA bundle;
  credentials and tokens are never logged, never put into messages, and masked in reprs.

The client never prints: progress is reported as small dataclass events to a callback.

The package, one job a module: `names` (hosts, URLs, the loopback rule, argument checks),
`events` (progress events, PushReport, BasicAuth), `answers` (registry error bodies, fixes,
Retry-After), `auth` (challenges, bearer tokens), `deadline` (limits on every wait), `waits`
(reporting long waits), `transport` (the HTTP client, retries, error translation),
`uploads` (mounts, blob uploads, cancelling them), `tag_writes` (version tags checked before
and read back after their PUT), `push` (the order of blobs, manifests and tags) and `client`
(RegistryClient and its read API).
"""

from __future__ import annotations

import sys

if "httpx" not in sys.modules:
    # `import httpx` also imports httpx's own command-line tool, and with it click, rich and
    # pygments (~30 ms of every shipyard start-up) whenever those are installed, as they are
    # beside our CLI. Nothing here uses that tool: marking it absent makes httpx skip it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]

from shipyard.adapters.registry.client import RegistryClient
from shipyard.adapters.registry.events import (
    BasicAuth,
    BlobAdvanced,
    BlobDone,
    BlobSkipped,
    BlobStarted,
    ManifestPushed,
    ProgressCallback,
    ProgressEvent,
    PushReport,
    RequestRetried,
    RequestWaiting,
    TagSet,
    TagSkipped,
)
from shipyard.adapters.registry.names import is_loopback_host
from shipyard.adapters.registry.push import BlobNotMounted

__all__ = [
    "BasicAuth",
    "BlobAdvanced",
    "BlobDone",
    "BlobNotMounted",
    "BlobSkipped",
    "BlobStarted",
    "ManifestPushed",
    "ProgressCallback",
    "ProgressEvent",
    "PushReport",
    "RegistryClient",
    "RequestRetried",
    "RequestWaiting",
    "TagSet",
    "TagSkipped",
    "is_loopback_host",
]
