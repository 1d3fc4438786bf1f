"""Secrets Manager: where task secrets live."""

from __future__ import annotations

from functools import cache

from shipyard.adapters.aws import Aws, call, translated
from shipyard.redaction import register_secret


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

    def secret_string(self, secret_id: str) -> str:
        """The current SecretString of a secret (a notification's webhook URL), registered
        with the redaction before it is returned: from here on no output shows it."""
        with translated("secretsmanager:GetSecretValue"):
            answer = self._client.get_secret_value(SecretId=secret_id)
        value = str(answer.get("SecretString") or "")
        register_secret(value)
        return value
