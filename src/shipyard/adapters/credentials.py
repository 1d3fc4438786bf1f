"""Registry credentials, shared by the ECR adapter (which makes them) and the builders and
registry client (which use them)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials for one registry host (`127.0.0.1:5000`, `123.dkr.ecr...amazonaws.com`)."""

    host: str
    username: str
    password: str = field(repr=False)  # a token: never in a repr, a log or an error message

    def for_host(self, host: str) -> RegistryLogin:
        """The same credentials for another name of the registry (SHIPYARD_REGISTRY)."""
        return RegistryLogin(host, self.username, self.password)
