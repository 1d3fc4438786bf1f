"""Names of images and registries: one home for each grammar and for the loopback rule.

Every layer that checks a repository name, a tag or a digest, or decides whether a registry
may be spoken to over plain HTTP, imports it from here, so the rules cannot drift apart.

Repository names follow ECR's grammar, which is stricter than the OCI distribution spec's:
the spec also allows `__` and runs of `-` between components (`a__b`, `a--b`), which ECR
refuses. Shipyard pushes to ECR (and to the sandbox, which stands in for it), so a name ECR
would refuse is refused before any request.

>>> bool(ECR_REPOSITORY.match("team/game-pulse")), bool(ECR_REPOSITORY.match("a__b"))
(True, False)
>>> is_loopback_host("127.0.0.1:5000"), is_loopback_host("10.0.0.1:5000")
(True, False)
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from shipyard.errors import UsageError

_COMPONENT = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
# ECR's repositoryName pattern (CreateRepository), anchored; at most 256 characters.
ECR_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
REPOSITORY_MAX_LENGTH = 256
# ECR's own bounds on a repository name (CreateRepository): other registries take one letter.
ECR_REPOSITORY_LENGTH = (2, REPOSITORY_MAX_LENGTH)
# ECR's registry host names its account and region: 123456789012.dkr.ecr.REGION.amazonaws.com
ECR_REGISTRY_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\."
                               r"amazonaws\.com(?:\.cn)?$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def is_valid_repository(name: str) -> bool:
    return bool(ECR_REPOSITORY.match(name)) and len(name) <= REPOSITORY_MAX_LENGTH


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and `[::1]`, with or without a port.

    Plain HTTP (and so no TLS) is allowed only to such a host: nobody can sit in between.
    """
    name = host_name(host)
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """The host without its port: `127.0.0.1:5000` -> `127.0.0.1`, `[::1]:5000` -> `::1`."""
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


# A registry host as docker reads it: a DNS name or IPv4 address, or an IPv6 one in brackets,
# with an optional port. Anything else (spaces, `?`, `#`, control characters) is refused here
# rather than turned into a strange URL.
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])"
                   r"(?::(?P<port>[^:/?#\s]*))?$")


def registry_host_problem(host: str) -> str | None:
    """Why `host[:port]` (an optional http(s):// and trailing `/` aside) cannot be a registry
    host; None when it can. The host is quoted only when it holds no credentials.

    >>> registry_host_problem("127.0.0.1:5000"), registry_host_problem("127.0.0.1:abc")
    (None, "port 'abc' is not a number from 1 to 65535")
    """
    text = host.strip()
    for prefix in ("https://", "http://"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    text = text.rstrip("/")
    if "@" in text:  # never echo it: it carries credentials
        return "it must not contain credentials; pass them as a username and password instead"
    match = _HOST.match(text)
    if match is None:
        return f"{text!r} is not HOST or HOST:PORT"
    port = match.group("port")
    if port is not None and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return f"port {port!r} is not a number from 1 to 65535"
    return None


@dataclass(frozen=True)
class ImageReference:
    """`registry/repository` with a tag, a digest, or both."""

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def pinned(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.registry}/{self.repository}{tag}{digest}"


def parse_image_reference(text: str, *, registry: str, repository: str) -> ImageReference:
    """An image reference, short forms completed with the service's registry and repository.

    >>> str(parse_image_reference(":1.2.3", registry="r:5000", repository="gp"))
    'r:5000/gp:1.2.3'
    >>> str(parse_image_reference("base:12", registry="r:5000", repository="gp"))
    'r:5000/base:12'
    >>> parse_image_reference("public.ecr.aws/x/otel:v1", registry="r", repository="gp").registry
    'public.ecr.aws'

    A first path component with a `.` or `:`, or `localhost`, is a registry host, as docker
    reads references; anything else is a repository in the service's registry.
    """
    rest, _, digest = text.strip().partition("@")
    host = registry
    first, slash, after = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, rest = first, after
        if problem := registry_host_problem(host):
            raise UsageError(f"image {text!r}: registry host {problem}; write the image as "
                             "HOST[:PORT]/REPOSITORY:TAG")
    name, tag = rest, ""
    if ":" in rest:
        name, _, tag = rest.rpartition(":")
    name = name or repository
    if digest and not DIGEST.match(digest):
        raise UsageError(f"image {text!r}: '{digest}' is not a sha256 digest; pass "
                         "@sha256:<64 hex digits>")
    if tag and not TAG.match(tag):
        raise UsageError(f"image {text!r}: '{tag}' is not a valid tag")
    if not is_valid_repository(name):
        raise UsageError(f"image {text!r}: '{name}' is not a valid repository name "
                         "(lowercase letters, digits, '.', '_', '-', '/')")
    if not tag and not digest:
        raise UsageError(f"image {text!r} names no tag or digest; pass REPO:TAG, :TAG or "
                         "@sha256:...")
    return ImageReference(host, name, tag, digest)
