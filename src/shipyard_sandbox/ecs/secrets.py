"""A container definition's `secrets`, resolved as ECS's agent resolves them at task start.

`valueFrom` is either a Secrets Manager ARN, optionally followed by ECS's selectors
(`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME:JSON_KEY:VERSION_STAGE:VERSION_ID`, empty
fields meaning "whole string", AWSCURRENT and "latest"), or a Systems Manager parameter (its
ARN, or its name in the task's region). Values are read from moto's in-process backends; a
SecureString parameter is decrypted, as the agent asks for it. A secret that cannot be
resolved fails the task to start, as on ECS (`ResourceInitializationError`).

The values reach only the container's environment: nothing here logs or reports them.
"""

from __future__ import annotations

import json
from typing import Any

from moto.secretsmanager.models import secretsmanager_backends
from moto.ssm.models import ssm_backends


class SecretError(RuntimeError):
    """A secret could not be resolved; the message names the reference, never a value."""


def resolve_all(secrets: list[dict[str, Any]], account_id: str, region: str) -> dict[str, str]:
    """{name: value} for a container definition's `secrets` list."""
    return {item["name"]: resolve(item["valueFrom"], account_id, region)
            for item in secrets or []}


def resolve(value_from: str, account_id: str, region: str) -> str:
    parts = value_from.split(":")
    if value_from.startswith("arn:") and len(parts) >= 7 and parts[2] == "secretsmanager":
        return _secrets_manager(parts)
    if value_from.startswith("arn:") and len(parts) >= 6 and parts[2] == "ssm":
        name = parts[5].removeprefix("parameter")
        return _parameter(name, parts[4] or account_id, parts[3] or region, value_from)
    return _parameter(value_from, account_id, region, value_from)


def _secrets_manager(parts: list[str]) -> str:
    region, account = parts[3], parts[4]
    arn = ":".join(parts[:7])
    key, stage, version = [*parts[7:], "", "", ""][:3]
    backend = secretsmanager_backends[account][region]
    try:
        answer = backend.get_secret_value(arn, version or None, stage or None)
    except Exception as error:  # moto's own exceptions; the reference is what matters
        raise SecretError(f"unable to retrieve secret from asm: {arn}: "
                          f"{type(error).__name__}") from error
    text = answer.get("SecretString")
    if text is None:
        raise SecretError(f"secret {arn} has no string value")
    if not key:
        return text
    try:
        document = json.loads(text)
    except ValueError as error:
        raise SecretError(f"secret {arn} is not JSON, so it has no key {key!r}") from error
    if not isinstance(document, dict) or key not in document:
        raise SecretError(f"retrieved secret from Secrets Manager did not contain json key "
                          f"{key}: {arn}")
    value = document[key]
    return value if isinstance(value, str) else json.dumps(value)


def _parameter(name: str, account: str, region: str, reference: str) -> str:
    backend = ssm_backends[account][region]
    try:
        parameter = backend.get_parameter(name)
    except Exception as error:
        raise SecretError(f"unable to retrieve parameter from ssm: {reference}: "
                          f"{type(error).__name__}") from error
    if parameter is None:
        raise SecretError(f"invalid ssm parameters: {reference}")
    value = parameter.decrypt(parameter.value)
    if value is None:
        raise SecretError(f"parameter {reference} could not be decrypted")
    return value
