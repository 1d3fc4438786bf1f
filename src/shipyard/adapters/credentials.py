"""Registry credentials: the one type that carries a username and password, and the one place
that encodes them.

The ECR adapter makes them (from GetAuthorizationToken), the registry client sends them, the
builders write them into their auth files and `shipyard login` into a docker config: all
through `BasicAuth.token()`, so there is one encoder and one decoder.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from shipyard.errors import AuthError


@dataclass(frozen=True)
class BasicAuth:
    """A username and password (for ECR: `AWS` and the GetAuthorizationToken password).

    The password is a token: never in a repr, a log or an error message.
    """

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self.username!r}, password='***')"

    def token(self) -> str:
        """`base64(username:password)`: docker's `auth` field and the Basic header's value."""
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")

    def header(self) -> str:
        return "Basic " + self.token()

    @classmethod
    def from_token(cls, token: str, *, source: str) -> BasicAuth:
        """Decode `base64(username:password)`; `source` names where it came from."""
        try:
            username, password = base64.b64decode(token, validate=True).decode().split(":", 1)
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise AuthError(f"{source} returned a token that is not base64 "
                            "'user:password'; check the endpoint") from exc
        return cls(username, password)


@dataclass(frozen=True, repr=False)
class RegistryLogin(BasicAuth):
    """Credentials for one registry host (`127.0.0.1:5000`, `123.dkr.ecr...amazonaws.com`)."""

    host: str = ""

    def for_host(self, host: str) -> RegistryLogin:
        """The same credentials for another name of the registry (SHIPYARD_REGISTRY)."""
        return RegistryLogin(self.username, self.password, host=host)
