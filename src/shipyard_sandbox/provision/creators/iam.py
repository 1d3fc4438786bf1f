"""AWS::IAM::Role and AWS::IAM::OIDCProvider through IAM's API."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.aws import Aws, Created, error_code


def oidc_provider(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    iam, url = aws("iam"), props["Url"]
    arn = f"arn:{aws.partition}:iam::{aws.account_id}:oidc-provider/{url.split('://', 1)[-1]}"
    try:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        return arn, "exists", ""
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
    created = iam.create_open_id_connect_provider(
        Url=url, ClientIDList=props.get("ClientIdList", []),
        ThumbprintList=props.get("ThumbprintList", []), Tags=props.get("Tags", []))
    return created["OpenIDConnectProviderArn"], "created", ""


def role(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    """Found (roles the task definitions name may exist already: other tests make them) or
    created, then given the template's trust, inline policies and managed policies."""
    iam, name = aws("iam"), props.get("RoleName", token[:64])
    trust = json.dumps(props["AssumeRolePolicyDocument"])
    try:
        iam.get_role(RoleName=name)
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
        state = "exists"
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust,
                        **{key: int(props[key]) if key == "MaxSessionDuration" else props[key]
                           for key in ("Path", "Description", "MaxSessionDuration", "Tags",
                                       "PermissionsBoundary") if key in props})
        state = "created"
    for policy in props.get("Policies", []):  # putting a policy again replaces it
        iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"],
                            PolicyDocument=json.dumps(policy["PolicyDocument"]))
    attached, missing = _attach_managed_policies(iam, name, props.get("ManagedPolicyArns", []))
    notes = [f"AWS managed {', '.join(attached)} attached"] if attached else []
    if missing:
        notes.append(f"{', '.join(missing)} not attached: unknown to this sandbox's moto (one "
                     "started without MOTO_IAM_LOAD_MANAGED_POLICIES=true knows no AWS managed "
                     "policy; restart it)")
    return name, state, "; ".join(notes)


def _attach_managed_policies(iam: Any, role_name: str,
                             arns: list[str]) -> tuple[list[str], list[str]]:
    """Attaches `arns` (twice is a no-op in IAM); returns the names of the AWS managed ones
    attached and of those the sandbox lacks. The sandbox loads AWS's managed policies
    (`shipyard_sandbox.__main__`); a customer policy that does not exist is an error."""
    attached, missing = [], []
    for arn in arns:
        aws_managed = ":iam::aws:policy/" in arn
        try:
            iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity" or not aws_managed:
                raise
            missing.append(arn.rsplit("/", 1)[-1])
            continue
        if aws_managed:
            attached.append(arn.rsplit("/", 1)[-1])
    return attached, missing
