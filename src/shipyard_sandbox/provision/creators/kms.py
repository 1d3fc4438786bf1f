"""AWS::KMS::Key and AWS::KMS::Alias through KMS's API: moto's CloudFormation makes every key
a symmetric ENCRYPT_DECRYPT key, whatever KeySpec and KeyUsage the template asks for."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.aws import Aws, Created, error_code

# Keys have no name to find them by on a second run: the token goes in a tag.
_TOKEN_TAG = "shipyard:sandbox-resource"


def key(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    kms = aws("kms")
    for listed in kms.list_keys()["Keys"]:
        tags = kms.list_resource_tags(KeyId=listed["KeyId"]).get("Tags", [])
        if any(t["TagKey"] == _TOKEN_TAG and t["TagValue"] == token for t in tags):
            return listed["KeyId"], "exists", ""
    policy = props.get("KeyPolicy")
    created = kms.create_key(
        KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
        KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
        Description=props.get("Description", ""),
        **({"Policy": json.dumps(policy) if not isinstance(policy, str) else policy}
           if policy else {}),
        Tags=[*({"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])),
              {"TagKey": _TOKEN_TAG, "TagValue": token}])
    return created["KeyMetadata"]["KeyId"], "created", ""


def alias(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    kms, name = aws("kms"), props["AliasName"]
    target = props["TargetKeyId"]
    try:
        kms.create_alias(AliasName=name, TargetKeyId=target)
        return name, "created", ""
    except ClientError as exc:
        if error_code(exc) != "AlreadyExistsException":
            raise
    kms.update_alias(AliasName=name, TargetKeyId=target)
    return name, "exists", ""
