"""ECR's account settings (`PutAccountSetting`, `GetAccountSetting`), which moto lacks.

The settings live on moto's ECR backend, so they are per account and region (as an ECR
registry's are) and the front proxy reads them through the bridge. `BLOB_MOUNTING` is the one
the sandbox acts on: the proxy mounts blobs across repositories only once it is ENABLED. The
other names ECR documents are stored and answered, with no effect on the sandbox.
"""

from __future__ import annotations

from typing import Any

from moto.ecr import responses as ecr_responses
from moto.ecr.exceptions import InvalidParameterException, ValidationException

BLOB_MOUNTING = "BLOB_MOUNTING"
# name -> (the values ECR accepts, the value of a registry that never set it); names and
# values from the API reference (botocore's model gives no enum for them).
SETTINGS: dict[str, tuple[tuple[str, ...], str]] = {
    BLOB_MOUNTING: (("ENABLED", "DISABLED"), "DISABLED"),
    "BASIC_SCAN_TYPE_VERSION": (("AWS_NATIVE", "CLAIR"), "AWS_NATIVE"),
    "REGISTRY_POLICY_SCOPE": (("V1", "V2"), "V2"),
}


def setting(backend: Any, name: str) -> str:
    """The value of `name` in this backend's registry (its default until put)."""
    stored: dict[str, str] = getattr(backend, "sandbox_account_settings", {})
    return stored.get(name, SETTINGS[name][1])


def _known(name: str | None) -> str:
    if name not in SETTINGS:
        raise ValidationException(
            f"Invalid account setting name '{name}'. Valid names: {', '.join(SETTINGS)}.")
    return name


def install() -> None:
    """Add the two operations to moto's ECR. Idempotent per process."""

    def put_account_setting(self):
        name = _known(self._get_param("name"))
        value = self._get_param("value")
        if value not in SETTINGS[name][0]:
            raise InvalidParameterException(
                f"Invalid value '{value}' for account setting '{name}'. Valid values: "
                f"{', '.join(SETTINGS[name][0])}.")
        backend = self.ecr_backend
        if not hasattr(backend, "sandbox_account_settings"):
            backend.sandbox_account_settings = {}
        backend.sandbox_account_settings[name] = value
        return ecr_responses.ActionResult({"name": name, "value": value})

    def get_account_setting(self):
        name = _known(self._get_param("name"))
        return ecr_responses.ActionResult({"name": name,
                                           "value": setting(self.ecr_backend, name)})

    ecr_responses.ECRResponse.put_account_setting = put_account_setting
    ecr_responses.ECRResponse.get_account_setting = get_account_setting
