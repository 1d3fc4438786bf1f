"""Build platforms: `os/arch[/variant]`, parsed and checked once for every builder.

>>> [str(p) for p in parse_platforms(("linux/amd64", "linux/arm64/v8"))]
['linux/amd64', 'linux/arm64/v8']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import UsageError

__all__ = ["Platform", "parse_platforms"]

# os/arch[/variant], lower case, as OCI image indexes and `--platform` spell them.
_PLATFORM = re.compile(r"^(?P<os>[a-z0-9]+)/(?P<arch>[a-z0-9_]+)(?:/(?P<variant>[a-z0-9]+))?$")


@dataclass(frozen=True)
class Platform:
    """A parsed `os/arch[/variant]`."""

    os: str
    arch: str
    variant: str = ""

    def __str__(self) -> str:
        return f"{self.os}/{self.arch}" + (f"/{self.variant}" if self.variant else "")

    @property
    def slug(self) -> str:
        """A form fit for an image tag: `linux-arm64-v8`."""
        return str(self).replace("/", "-")


def parse_platforms(platforms: tuple[str, ...]) -> tuple[Platform, ...]:
    """Check and parse the requested platforms; duplicates and typos are usage errors.

    >>> [str(p) for p in parse_platforms(("linux/amd64", "linux/arm64"))]
    ['linux/amd64', 'linux/arm64']
    """
    if not platforms:
        raise UsageError("no build platform given; pass one, e.g. --platform linux/amd64")
    parsed = []
    for text in platforms:
        match = _PLATFORM.match(text)
        if match is None:
            raise UsageError(
                f"build platform {text!r} is not os/arch[/variant]; use e.g. linux/amd64"
            )
        parsed.append(Platform(match["os"], match["arch"], match["variant"] or ""))
    if len(set(parsed)) != len(parsed):
        raise UsageError(f"build platforms {', '.join(platforms)} name one platform twice")
    return tuple(parsed)
