"""STS: who the credentials belong to."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, translated


class Sts:
    """The STS call Shipyard makes."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws

    def account_id(self) -> str:
        """The AWS account of the current credentials (GetCallerIdentity needs no permission)."""
        with translated("sts:GetCallerIdentity"):
            return self._aws.client("sts").get_caller_identity()["Account"]
