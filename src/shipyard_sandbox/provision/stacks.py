"""The stacks the provisioner makes in moto's CloudFormation: reading one, creating one, and
the restore stacks that remake resources deleted outside their stack.

A stack is never updated (moto's update only touches resources whose template changed, so it
would not remake a deleted one), and deleting it would replace every resource in it with new
ids that other resources already point at. So what was deleted is made again in a stack of its
own, `<stack>-restored-<n>`, and later runs read a stack's resources through its restore
stacks, newest last.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.report import ProvisionError

_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


class Stacks:
    """moto's CloudFormation, as the provisioner uses it."""

    def __init__(self, cloudformation: Any) -> None:
        self._cloudformation = cloudformation

    def status(self, name: str) -> str | None:
        """The stack's status, or None when there is no such stack."""
        try:
            stacks = self._cloudformation.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        status = stacks[0]["StackStatus"] if stacks else None
        return None if status == "DELETE_COMPLETE" else status

    def resources(self, name: str) -> dict[str, str] | None:
        """Logical id -> physical id of the stack's resources, or None when there is no stack.

        These are what the stack made; whether each still exists is for `probes` to say."""
        status = self.status(name)
        if status is None:
            return None
        if status not in _DONE:
            raise ProvisionError(f"stack {name} is {status}; delete it (aws cloudformation "
                                 f"delete-stack --stack-name {name}) or restart the sandbox")
        return {r["LogicalResourceId"]: r.get("PhysicalResourceId") or "" for r in
                self._cloudformation.describe_stack_resources(StackName=name)["StackResources"]}

    def create(self, name: str, body: dict[str, Any]) -> dict[str, str]:
        """Creates the stack; its resources as `resources` gives them."""
        try:
            self._cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(body))
        except ClientError as exc:
            raise ProvisionError(f"moto's CloudFormation refused stack {name}: {exc}") from exc
        made = self.resources(name)
        if made is None:
            raise ProvisionError(f"stack {name} vanished while it was created; restart the "
                                 "sandbox")
        return made

    def restores(self, name: str) -> list[tuple[str, dict[str, str]]]:
        """The restore stacks of `name` that exist, oldest first, with their resources."""
        found = []
        while (resources := self.resources(restore_name(name, len(found) + 1))) is not None:
            found.append((restore_name(name, len(found) + 1), resources))
        return found


def restore_name(stack: str, number: int) -> str:
    return f"{stack}-restored-{number}"
