"""AWS::Lambda::Function through Lambda's API, from code `package` uploaded to the sandbox's S3.

A function that exists is brought to the template's code (UpdateFunctionCode when its
CodeSha256 differs) and configuration, as a stack update would. The sandbox runs it
(`shipyard_sandbox.lambdas`): Python zip functions, with the load balancer's and ECR's names in
its environment pointed at the sandbox's local addresses.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.aws import Aws, Created, error_code

# The properties the sandbox passes on; the API's names are CloudFormation's.
CONFIGURATION = ("Runtime", "Role", "Handler", "Description", "Timeout", "MemorySize",
                 "Environment")
NUMBERS = ("Timeout", "MemorySize")


def _configuration(props: dict[str, Any]) -> dict[str, Any]:
    found = {key: props[key] for key in CONFIGURATION if key in props}
    for key in NUMBERS:
        if key in found:
            found[key] = int(found[key])
    return found


def function(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    lam, name = aws("lambda"), props.get("FunctionName", token)
    code = props.get("Code") or {}
    if not isinstance(code, dict) or not {"S3Bucket", "S3Key"} <= set(code):
        # Inline ZipFile source and container images are not modelled (the sandbox runs zip
        # packages only); a local path was packaged already (`provision.package`).
        raise ClientError({"Error": {"Code": "InvalidParameterValueException", "Message":
                                     f"{name}: the sandbox takes Code as a local path or "
                                     "S3Bucket/S3Key"}}, "CreateFunction")
    code = {"S3Bucket": code["S3Bucket"], "S3Key": code["S3Key"]}
    configuration = _configuration(props)
    try:
        found = lam.get_function(FunctionName=name)["Configuration"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        lam.create_function(FunctionName=name, Code=code, **configuration)
        return name, "created", ""
    notes = []
    if _sha256(aws, code) != found.get("CodeSha256"):
        lam.update_function_code(FunctionName=name, **code)
        notes.append("its code was updated to the template's")
    lam.update_function_configuration(FunctionName=name, **configuration)
    return name, "exists", "; ".join(notes)


def _sha256(aws: Aws, code: dict[str, Any]) -> str:
    body = aws("s3").get_object(Bucket=code["S3Bucket"], Key=code["S3Key"])["Body"].read()
    return base64.b64encode(hashlib.sha256(body).digest()).decode()
