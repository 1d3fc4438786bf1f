"""Reading a registry's answers: error bodies, what to do about them, Retry-After, media types.

A registry says what went wrong in a distribution error body, `{"errors": [{"code": ...,
"message": ...}]}`. The first code of an answer picks the fix a message suggests; ECR's and
other registries' ways of refusing to move an immutable tag are recognised here.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx

from shipyard.adapters.oci_layout import MANIFEST_MEDIA_TYPES

RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

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


def registry_errors(response: httpx.Response) -> list[tuple[str, str]]:
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


def describe(response: httpx.Response) -> str:
    """`400 MANIFEST_INVALID: manifest invalid` or `404 Not Found`, on one line."""
    errors = registry_errors(response)
    if not errors:
        return f"{response.status_code} {response.reason_phrase}".strip()
    code, message = errors[0]
    text = f"{response.status_code} {code}" + (f": {message}" if message else "")
    return " ".join(text.split())[:300]


def fix_for(response: httpx.Response) -> str:
    """The advice for a refused request, from its first known error code."""
    codes = [code for code, _ in registry_errors(response)]
    fix = next((_FIXES[code] for code in codes if code in _FIXES), None)
    if fix is not None:
        return fix
    return ("check the repository name and reference" if response.status_code == 404
            else _DEFAULT_FIX)


def is_immutable_rejection(response: httpx.Response) -> bool:
    # ECR answers an overwrite of an immutable tag with 400 TAG_INVALID ("The image tag '1.2.0'
    # already exists in the 'x' repository and cannot be overwritten because the repository is
    # immutable"); its API calls it ImageTagAlreadyExistsException. Distribution-based
    # registries put "immutable" into MANIFEST_INVALID or TAG_INVALID; Harbor answers 412.
    # (Distribution's own TAG_INVALID is for schema 1 manifests, which we never push.)
    if response.status_code not in (400, 409, 412):
        return False
    for code, message in registry_errors(response):
        lowered = message.lower()
        if code == "TAG_INVALID" and response.status_code == 400:
            return True
        if "immutable" in lowered or "imagetagalreadyexistsexception" in lowered:
            return True
    return False


def retry_after(response: httpx.Response) -> float | None:
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


def media_type(response: httpx.Response, content: bytes) -> str:
    """A manifest's media type: the Content-Type when it is one, else the body's mediaType."""
    header = response.headers.get("Content-Type", "").split(";")[0].strip()
    if header in MANIFEST_MEDIA_TYPES:
        return header
    try:
        declared = json.loads(content).get("mediaType")
    except (ValueError, AttributeError):
        declared = None
    return declared if isinstance(declared, str) and declared else header
