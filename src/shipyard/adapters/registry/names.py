"""Registry hosts, URLs and names: the loopback rule, URL building, and argument checks.

Plain HTTP is allowed only to a loopback registry (the sandbox), and never to anywhere a
registry redirects us; repository names, tags and digests are checked before any request, so
a typo is a UsageError that names the fix instead of a registry's 400.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from shipyard.domain.names import (
    DIGEST,
    TAG,
    is_loopback_host,
    is_valid_repository,
    registry_host_problem,
)
from shipyard.errors import UsageError

__all__ = ["DIGEST", "base_url", "check_digest", "check_reference", "check_repository",
           "check_tag", "is_loopback_host", "path_of", "pull_scope", "push_scope",
           "with_digest"]


def base_url(host: str, insecure_loopback: bool) -> tuple[str, str]:
    """(`host[:port]`, `scheme://host[:port]`) for a registry; plain HTTP only on loopback."""
    text = host.strip().rstrip("/")
    scheme = None
    for prefix in ("https://", "http://"):
        if text.lower().startswith(prefix):
            scheme, text = prefix[:-3], text[len(prefix):]
    if problem := registry_host_problem(text):
        raise UsageError(f"registry host: {problem}; pass e.g. "
                         "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com or 127.0.0.1:5000")
    loopback = is_loopback_host(text)
    if scheme == "http" and not (loopback and insecure_loopback):
        raise UsageError(f"refusing plain HTTP to registry {text}: only a loopback registry may "
                         "use http://; use https://")
    if scheme is None:
        scheme = "http" if loopback and insecure_loopback else "https"
    text = text.lower()
    return text, f"{scheme}://{text}"


def with_digest(location: str, digest: str) -> str:
    # The upload Location is opaque: distribution puts a signed `_state` in its query and ECR
    # its own parameters, so append to the query as-is instead of parsing and re-encoding it.
    separator = "&" if "?" in location else "?"
    return f"{location}{separator}digest={digest}"


def path_of(url: object) -> str:
    """A URL's path without its query, which may hold upload state: safe to show."""
    return unquote(urlsplit(str(url)).path)


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    return f"repository:{repository}:pull,push"


def check_repository(repository: str) -> None:
    if not is_valid_repository(repository):
        raise UsageError(f"{repository!r} is not a valid repository name; use lowercase "
                         "letters, digits and '.', '_', '-' separators, with '/' for paths")


def check_tag(tag: str) -> None:
    if not TAG.match(tag):
        raise UsageError(f"{tag!r} is not a valid image tag; use up to 128 letters, digits, "
                         "'_', '.' and '-' (no '+': rewrite semver build metadata)")


def check_digest(digest: str) -> None:
    if not DIGEST.match(digest):
        raise UsageError(f"{digest!r} is not a sha256 digest; pass sha256:<64 hex digits>")


def check_reference(reference: str) -> None:
    if not (DIGEST.match(reference) or TAG.match(reference)):
        raise UsageError(f"{reference!r} is neither an image tag nor a sha256 digest; pass "
                         "e.g. 1.2.0 or sha256:<64 hex digits>")
