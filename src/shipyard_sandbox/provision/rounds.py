"""The rounds: every API resource whose references exist, then one stack of every such stack
resource, and again until the template is done."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.attributes import ATTRIBUTES
from shipyard_sandbox.provision.aws import Aws, moto_cloudformation_types
from shipyard_sandbox.provision.creators import API_CREATORS, API_REASONS, MOTO_GAPS
from shipyard_sandbox.provision.intrinsics import Resolver, references
from shipyard_sandbox.provision.network import sandbox_network
from shipyard_sandbox.provision.parameters import parameter_values
from shipyard_sandbox.provision.report import ProvisionError, ProvisionReport
from shipyard_sandbox.provision.template import as_list


class Provisioner:
    """One provisioning run of one template into the sandbox, under `stack_name`."""

    def __init__(self, aws: Aws, template: dict[str, Any], stack_name: str) -> None:
        self.aws = aws
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.stack_name = stack_name
        self.report = ProvisionReport()
        self.refs: dict[str, Any] = {}
        self._attributes: dict[tuple[str, str], Any] = {}
        self.resolver = Resolver(template, self.refs, self._attribute)
        self.method: dict[str, str] = {}  # logical id -> "stack" or "api"
        self.depends: dict[str, set[str]] = {}  # logical id -> the resources it refers to

    def run(self, given: dict[str, str]) -> ProvisionReport:
        self.refs.update(parameter_values(
            self.template, given, lambda: sandbox_network(self.aws, self.stack_name, self.report)))
        self.refs.update({"AWS::Region": self.aws.region, "AWS::AccountId": self.aws.account_id,
                          "AWS::Partition": self.aws.partition, "AWS::StackName": self.stack_name,
                          "AWS::URLSuffix": "amazonaws.com"})
        pending = self._plan()
        while pending:
            made_by_api = self._api_round(pending)
            batch = self._stack_batch(pending)
            if batch:
                self._stack(batch)
                pending = [lid for lid in pending if lid not in batch]
            if not (made_by_api or batch):
                raise ProvisionError(f"circular references between {', '.join(pending)}")
        self._outputs()
        return self.report

    # --- planning ---

    def _plan(self) -> list[str]:
        """The logical ids to create, in template order; records the skipped ones."""
        absent: set[str] = set()
        for lid, resource in self.resources.items():
            condition = resource.get("Condition")
            if condition and not self.resolver.condition(condition):
                absent.add(lid)
                self.report.record(lid, resource["Type"], "skipped", "skipped", "",
                                   f"condition {condition} is false")
        unavailable: dict[str, str] = {}
        for lid, resource in self.resources.items():
            if lid in absent:
                continue
            kind = resource["Type"]
            self.method[lid] = "api" if kind in API_CREATORS else (
                "stack" if kind in moto_cloudformation_types() else "skipped")
            if self.method[lid] == "skipped":
                unavailable[lid] = (f"moto's CloudFormation has no {kind} and the provisioner "
                                    "no API for it")
            named = references(resource.get("Properties", {}), self.resolver.condition)
            named.update(as_list(resource.get("DependsOn")))
            self.depends[lid] = {name for name in named if name in self.resources} - absent
        changed = True
        while changed:  # whatever needs an unavailable resource is unavailable too
            changed = False
            for lid, needs in self.depends.items():
                missing = sorted(needs & set(unavailable))
                if lid not in unavailable and missing:
                    unavailable[lid] = f"needs {missing[0]}, which the sandbox cannot create"
                    changed = True
        for lid, reason in unavailable.items():
            self.report.record(lid, self.resources[lid]["Type"], "skipped", "skipped", "",
                               reason)
        return [lid for lid in self.method if lid not in unavailable]

    def _done(self, lid: str) -> bool:
        return lid in self.refs

    # --- the API round ---

    def _api_round(self, pending: list[str]) -> bool:
        made = False
        progress = True
        while progress:
            progress = False
            for lid in list(pending):
                if self.method[lid] == "api" and all(map(self._done, self.depends[lid])):
                    self._create_by_api(lid)
                    pending.remove(lid)
                    made = progress = True
        return made

    def _create_by_api(self, lid: str) -> None:
        kind = self.resources[lid]["Type"]
        props = self.resolver.value(self.resources[lid].get("Properties", {}))
        try:
            ref, state, note = API_CREATORS[kind](self.aws, f"{self.stack_name}-{lid}", props)
        except ClientError as exc:
            raise ProvisionError(f"{lid} ({kind}): {exc}") from exc
        self.refs[lid] = ref
        detail = "; ".join(filter(None, (API_REASONS[kind], note, MOTO_GAPS.get(kind))))
        self.report.record(lid, kind, "api", state, ref, detail)

    # --- the stack round ---

    def _stack_batch(self, pending: list[str]) -> list[str]:
        """Every stack resource whose references exist or are in the batch itself."""
        batch: list[str] = []
        grown = True
        while grown:
            grown = False
            for lid in pending:
                if (self.method[lid] == "stack" and lid not in batch
                        and all(self._done(d) or d in batch for d in self.depends[lid])):
                    batch.append(lid)
                    grown = True
        return [lid for lid in pending if lid in batch]  # template order

    def _stack(self, batch: list[str]) -> None:
        name = self.stack_name if not self.report.stacks else (
            f"{self.stack_name}-{len(self.report.stacks) + 1}")
        local = frozenset(batch)
        body = {"AWSTemplateFormatVersion": "2010-09-09",
                "Description": f"Sandbox stack {len(self.report.stacks) + 1} of "
                f"{self.stack_name}: the resources moto's CloudFormation makes faithfully",
                "Resources": {lid: self._derived(lid, local) for lid in batch}}
        cloudformation = self.aws("cloudformation")
        status = self._stack_status(name)
        state = "exists"
        if status is None:
            try:
                cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(body))
            except ClientError as exc:
                raise ProvisionError(f"moto's CloudFormation refused stack {name}: {exc}"
                                     ) from exc
            status, state = self._stack_status(name), "created"
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise ProvisionError(f"stack {name} is {status}; delete it (aws cloudformation "
                                 f"delete-stack --stack-name {name}) or restart the sandbox")
        physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in
                    cloudformation.describe_stack_resources(StackName=name)["StackResources"]}
        self.report.stacks.append(name)
        for lid in batch:
            if lid not in physical:
                raise ProvisionError(f"stack {name} has no {lid}: the template changed since it "
                                     "was provisioned; restart the sandbox")
            self.refs[lid] = physical[lid]
            kind = self.resources[lid]["Type"]
            detail = "; ".join(filter(None, (f"stack {name}", MOTO_GAPS.get(kind))))
            self.report.record(lid, kind, "stack", state, physical[lid], detail)

    def _derived(self, lid: str, local: frozenset[str]) -> dict[str, Any]:
        resource = self.resources[lid]
        derived = {"Type": resource["Type"],
                   "Properties": self.resolver.value(resource.get("Properties", {}), local)}
        depends = [name for name in as_list(resource.get("DependsOn")) if name in local]
        if depends:
            derived["DependsOn"] = depends
        return derived

    def _stack_status(self, name: str) -> str | None:
        try:
            stacks = self.aws("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        status = stacks[0]["StackStatus"] if stacks else None
        return None if status == "DELETE_COMPLETE" else status

    # --- attributes and outputs ---

    def _attribute(self, lid: str, attribute: str) -> Any:
        if lid not in self.refs or lid not in self.resources:
            raise ProvisionError(f"Fn::GetAtt {lid}.{attribute}: {lid} was not created")
        key = (lid, attribute)
        if key not in self._attributes:
            kind = self.resources[lid]["Type"]
            getter = ATTRIBUTES.get((kind, attribute))
            if getter is None:
                raise ProvisionError(f"Fn::GetAtt {lid}.{attribute}: the sandbox provisioner "
                                     f"cannot read {attribute} of {kind}")
            self._attributes[key] = getter(self.aws, self.refs[lid])
        return self._attributes[key]

    def _outputs(self) -> None:
        for key, output in self.template.get("Outputs", {}).items():
            condition = output.get("Condition")
            if condition and not self.resolver.condition(condition):
                continue
            try:
                self.report.outputs[key] = self.resolver.value(output["Value"])
            except (ProvisionError, ClientError) as exc:
                self.report.outputs[key] = f"(unavailable: {exc})"
