"""IAM: the roles tasks run with."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, call, translated


class Iam:
    """The IAM lookups Shipyard makes."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws

    def role_exists(self, role_name: str) -> bool:
        """Whether an IAM role of this name exists."""
        found = call("iam:GetRole", lambda: self._aws.client("iam").get_role(RoleName=role_name),
                     absent={"NoSuchEntity"})
        return found is not None

    def simulate(self, principal_arn: str, actions: list[str],
                 resources: list[str]) -> dict[str, str]:
        """SimulatePrincipalPolicy: action -> IAM's decision (`allowed`, `implicitDeny`,
        `explicitDeny`) for `principal_arn` on `resources` (["*"]: any)."""
        decisions: dict[str, str] = {}
        with translated("iam:SimulatePrincipalPolicy"):
            pages = self._aws.client("iam").get_paginator("simulate_principal_policy").paginate(
                PolicySourceArn=principal_arn, ActionNames=actions, ResourceArns=resources)
            for page in pages:
                for result in page.get("EvaluationResults", []):
                    decisions[str(result["EvalActionName"])] = str(result["EvalDecision"])
        return decisions
