"""STS: who the credentials belong to."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, translated


def account_id(aws: Aws) -> str:
    """The AWS account of the current credentials (GetCallerIdentity needs no permission)."""
    with translated("sts:GetCallerIdentity"):
        return aws.client("sts").get_caller_identity()["Account"]
