"""The rounds: every API resource whose references exist, then one stack of every such stack
resource, and again until the template is done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.attributes import ATTRIBUTES
from shipyard_sandbox.provision.aws import Aws, moto_cloudformation_types
from shipyard_sandbox.provision.creators import API_CREATORS, API_REASONS, MOTO_GAPS
from shipyard_sandbox.provision.intrinsics import Resolver, references
from shipyard_sandbox.provision.network import sandbox_network
from shipyard_sandbox.provision.parameters import parameter_values
from shipyard_sandbox.provision.probes import PROBES
from shipyard_sandbox.provision.report import ProvisionError, ProvisionReport
from shipyard_sandbox.provision.stacks import Stacks, restore_name
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
        self._batches = 0  # stacks of the template's resources so far

    def run(self, given: dict[str, str],
            before_create: Callable[[], None] = lambda: None) -> ProvisionReport:
        self.refs.update(parameter_values(
            self.template, given, lambda: sandbox_network(self.aws, self.stack_name, self.report)))
        before_create()  # the parameters are good: writes may begin (packaged code)
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
        self._batches += 1
        name = self.stack_name if self._batches == 1 else f"{self.stack_name}-{self._batches}"
        stacks = Stacks(self.aws("cloudformation"))
        physical = stacks.resources(name)
        if physical is None:
            physical = stacks.create(name, self._body(name, batch, "the resources moto's "
                                                      "CloudFormation makes faithfully"))
            self._record_stack(batch, physical, dict.fromkeys(batch, name), set(batch))
            self.report.stacks.append(name)
            return
        absent = [lid for lid in batch if lid not in physical]
        if absent:
            raise ProvisionError(f"stack {name} has no {absent[0]}: the template changed since "
                                 "it was provisioned; restart the sandbox")
        holder = dict.fromkeys(batch, name)
        restores = stacks.restores(name)
        for restore, resources in restores:  # the newest copy of each resource counts
            for lid in set(batch) & set(resources):
                physical[lid], holder[lid] = resources[lid], restore
        gone = self._deleted_since(batch, physical)
        if gone:
            restore = restore_name(name, len(restores) + 1)
            physical.update(stacks.create(restore, self._body(
                restore, gone, f"what was deleted from {name} outside CloudFormation")))
            holder.update(dict.fromkeys(gone, restore))
        self._record_stack(batch, physical, holder, set(gone))
        self.report.stacks += [name, *(s for s in dict.fromkeys(holder.values()) if s != name)]

    def _deleted_since(self, batch: list[str], physical: dict[str, str]) -> list[str]:
        """The batch's resources that their stacks list but their services no longer have."""
        self.refs.update({lid: physical[lid] for lid in batch})
        gone = []
        for lid in batch:
            probe = PROBES.get(self.resources[lid]["Type"])
            properties = self.resources[lid].get("Properties", {})
            if probe and not probe(self.aws, physical[lid],
                                   lambda p=properties: self.resolver.value(p)):
                gone.append(lid)
        for lid in gone:  # to be made again: references to them stay inside the new stack
            del self.refs[lid]
            for key in [key for key in self._attributes if key[0] == lid]:
                del self._attributes[key]
        return gone

    def _body(self, name: str, lids: list[str], what: str) -> dict[str, Any]:
        local = frozenset(lids)
        return {"AWSTemplateFormatVersion": "2010-09-09",
                "Description": f"Sandbox stack {name} of {self.stack_name}: {what}",
                "Resources": {lid: self._derived(lid, local) for lid in lids}}

    def _record_stack(self, batch: list[str], physical: dict[str, str], holder: dict[str, str],
                      created: set[str]) -> None:
        for lid in batch:
            self.refs[lid] = physical[lid]
            kind = self.resources[lid]["Type"]
            unchecked = "" if lid in created or kind in PROBES else (
                "its existence is the stack's word: the sandbox has no check for this type")
            detail = "; ".join(filter(None, (f"stack {holder[lid]}", unchecked,
                                             MOTO_GAPS.get(kind))))
            self.report.record(lid, kind, "stack", "created" if lid in created else "exists",
                               physical[lid], detail)

    def _derived(self, lid: str, local: frozenset[str]) -> dict[str, Any]:
        resource = self.resources[lid]
        derived = {"Type": resource["Type"],
                   "Properties": self.resolver.value(resource.get("Properties", {}), local)}
        depends = [name for name in as_list(resource.get("DependsOn")) if name in local]
        if depends:
            derived["DependsOn"] = depends
        return derived

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
