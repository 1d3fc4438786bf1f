"""IAM: the roles tasks run with."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, call


def role_exists(aws: Aws, role_name: str) -> bool:
    """Whether an IAM role of this name exists."""
    found = call("iam:GetRole", lambda: aws.client("iam").get_role(RoleName=role_name),
                 absent={"NoSuchEntity"})
    return found is not None
