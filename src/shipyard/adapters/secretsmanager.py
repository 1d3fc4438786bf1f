"""Secrets Manager: where task secrets live."""

from __future__ import annotations

from functools import cache

from shipyard.adapters.aws import Aws, call


class SecretsManager:
    """Secret lookups, cached: a template may ask for the same secret many times."""

    def __init__(self, aws: Aws) -> None:
        self._client = aws.client("secretsmanager")

    @cache  # noqa: B019 - one instance per command run; the cache dies with it
    def secret_arn(self, secret_id: str) -> str | None:
        """The ARN of a secret (by name or ARN), or None when it does not exist."""
        found = call("secretsmanager:DescribeSecret",
                     lambda: self._client.describe_secret(SecretId=secret_id),
                     absent={"ResourceNotFoundException"})
        return found["ARN"] if found else None
