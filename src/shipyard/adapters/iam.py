"""IAM: the roles tasks run with."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, call


class Iam:
    """The IAM lookups Shipyard makes."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws

    def role_exists(self, role_name: str) -> bool:
        """Whether an IAM role of this name exists."""
        found = call("iam:GetRole", lambda: self._aws.client("iam").get_role(RoleName=role_name),
                     absent={"NoSuchEntity"})
        return found is not None
