"""GamePulse's infrastructure in a test session's sandbox: boto3 clients on the sandbox, and
infra/gamepulse.yaml provisioned as `shipyard sandbox provision` does it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from shipyard_sandbox.provision import ProvisionReport, provision

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "GamePulse" / "infra" / "gamepulse.yaml"


class SandboxAws:
    """boto3 clients on the sandbox whose environment is `env`."""

    def __init__(self, env: dict[str, str]) -> None:
        self._session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_REGION"])
        self._endpoint = env["AWS_ENDPOINT_URL"]

    def __call__(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint)


@contextmanager
def gamepulse_provisioned(env: dict[str, str], repository: str) -> Iterator[ProvisionReport]:
    """The template provisioned (again: provisioning is idempotent) for GitHub `repository`."""
    report = provision(env["AWS_ENDPOINT_URL"], env["AWS_REGION"], TEMPLATE,
                       {"GitHubRepository": repository})
    try:
        yield report
    finally:
        # The template turns ECR's BLOB_MOUNTING on; other tests share this sandbox and expect
        # ECR's default (off), as a fresh sandbox has it.
        SandboxAws(env)("ecr").put_account_setting(name="BLOB_MOUNTING", value="DISABLED")
