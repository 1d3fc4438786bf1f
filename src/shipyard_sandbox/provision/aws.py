"""AWS as the sandbox serves it: boto3 clients on its endpoint, and helpers for calling them."""

from __future__ import annotations

from functools import cache, cached_property
from typing import Any

import boto3
from botocore.exceptions import ClientError

from shipyard_sandbox.service import SANDBOX_KEY

# What a creator returns: (the resource's Ref value, "created" or "exists", a note or "").
Created = tuple[str, str, str]


class Aws:
    """boto3 clients on the sandbox's endpoint, with its dummy credentials."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self._session = boto3.session.Session(aws_access_key_id=SANDBOX_KEY,
                                              aws_secret_access_key=SANDBOX_KEY,
                                              region_name=region)
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint)
        return self._clients[service]

    @cached_property
    def account_id(self) -> str:
        return self("sts").get_caller_identity()["Account"]

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"


@cache
def moto_cloudformation_types() -> frozenset[str]:
    """The resource types moto's CloudFormation implements (`create_from_cloudformation_json`)."""
    from moto.cloudformation.parsing import get_model_map

    return frozenset(get_model_map())


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


# API shapes are CloudFormation's in camelCase, with these exceptions; the values of `_DATA_MAPS`
# are user data (log driver options, labels) and keep their keys as written.
_API_NAMES = {"ECSServices": "ecsServices", "EFSVolumeConfiguration": "efsVolumeConfiguration",
              "IAM": "iam", "ClusterSettings": "settings"}
_DATA_MAPS = {"Options", "DockerLabels", "DriverOpts", "Labels"}


def camel(value: Any) -> Any:
    """CloudFormation properties as the service API's parameters."""
    if isinstance(value, list):
        return [camel(item) for item in value]
    if isinstance(value, dict):
        return {_API_NAMES.get(key, key[:1].lower() + key[1:]):
                (item if key in _DATA_MAPS else camel(item)) for key, item in value.items()}
    return value
