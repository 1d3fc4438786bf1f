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

    def identity(self) -> tuple[str, str, str]:
        """(account, ARN, the answer's Date header): whose the credentials are, and the
        server's clock (for the skew SigV4 tolerates)."""
        with translated("sts:GetCallerIdentity"):
            answer = self._aws.client("sts").get_caller_identity()
        headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return str(answer["Account"]), str(answer.get("Arn", "")), str(headers.get("date", ""))
