"""SSM Parameter Store: values templates look up (file system ids, settings, secrets)."""

from __future__ import annotations

from functools import cache

from shipyard.adapters.aws import Aws, call


class ParameterStore:
    """Parameter lookups, cached per command run."""

    def __init__(self, aws: Aws) -> None:
        self._client = aws.client("ssm")

    def exists(self, name: str) -> bool:
        """Whether a parameter (by name or ARN) exists, without decrypting it (no kms:Decrypt
        needed)."""
        found = call("ssm:GetParameter", lambda: self._client.get_parameter(Name=name),
                     absent={"ParameterNotFound"})
        return found is not None

    @cache  # noqa: B019 - one instance per command run; the cache dies with it
    def value(self, name: str) -> str | None:
        """A parameter's value (decrypted), or None when it does not exist."""
        found = call("ssm:GetParameter",
                     lambda: self._client.get_parameter(Name=name, WithDecryption=True),
                     absent={"ParameterNotFound"})
        return found["Parameter"]["Value"] if found else None
