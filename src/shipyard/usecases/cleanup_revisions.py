"""`shipyard cleanup --task-definitions`: the service families' task-definition revisions
beyond the newest [cleanup] keep_task_definitions deregistered, then deleted; never one that
a service's deployment or task set uses (`domain.retention.plan_revisions` decides).

The families are those the environments' services run now. Reads first (DescribeServices of
each environment, the clusters' services, ListTaskDefinitions ACTIVE and INACTIVE); then,
only when asked, DeregisterTaskDefinition for each ACTIVE revision that goes, and
DeleteTaskDefinitions, 10 a call, for all of them. ECS deletes a revision no task uses
(DELETE_IN_PROGRESS until the last one stops); a refusal is reported, not raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipyard.config import Config
from shipyard.domain.retention import RevisionDecision, plan_revisions
from shipyard.usecases.cleanup import clusters_of, definitions_in_use
from shipyard.usecases.context import Context

LIMIT = 10_000  # revisions listed per family and status, at most


@dataclass(frozen=True)
class RevisionPlan:
    families: tuple[str, ...]
    keep: int
    clusters: tuple[str, ...]
    decisions: tuple[RevisionDecision, ...]

    @property
    def deleted(self) -> list[RevisionDecision]:
        return [d for d in self.decisions if d.delete]


@dataclass
class RevisionResult:
    plan: RevisionPlan
    dry_run: bool
    deregistered: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)  # arn, reason

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        return {"families": list(plan.families), "keep_task_definitions": plan.keep,
                "clusters": list(plan.clusters),
                "delete": [_row(d) for d in plan.decisions if d.delete],
                "keep": [_row(d) for d in plan.decisions if not d.delete],
                "dry_run": self.dry_run, "deregistered": self.deregistered,
                "deleted": self.deleted, "failures": self.failures}


def _row(decision: RevisionDecision) -> dict[str, str]:
    return {"arn": decision.arn, "status": decision.status, "reason": decision.reason}


def plan_revision_cleanup(config: Config, ctx: Context) -> RevisionPlan:
    """Everything read and decided; nothing written."""
    ecs = ctx.ecs
    families: list[str] = []
    for name in config.environments:
        settings = config.environment(name)
        service = ecs.service(settings.cluster, settings.service)
        arn = str((service or {}).get("taskDefinition", ""))
        family = arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
        if family and family not in families:
            families.append(family)
    clusters = clusters_of(config)
    in_use = definitions_in_use(ctx, clusters)
    keep = config.cleanup.keep_task_definitions
    decisions: list[RevisionDecision] = []
    for family in families:
        revisions = [(arn, status) for status in ("ACTIVE", "INACTIVE")
                     for arn in ecs.task_definition_arns(family, LIMIT, status=status)]
        decisions += plan_revisions(revisions, keep, in_use=in_use)
    return RevisionPlan(tuple(families), keep, clusters, tuple(decisions))


def run_revision_cleanup(plan: RevisionPlan, ctx: Context, *, dry_run: bool) -> RevisionResult:
    result = RevisionResult(plan, dry_run)
    if dry_run:
        return result
    going = plan.deleted
    for decision in going:
        if decision.status == "ACTIVE":
            ctx.ecs.deregister_task_definition(decision.arn)
            result.deregistered.append(decision.arn)
    for response in ctx.ecs.delete_task_definitions([d.arn for d in going]):
        result.deleted += [str(t.get("taskDefinitionArn")) for t in
                           response.get("taskDefinitions", [])]
        result.failures += [{"arn": str(f.get("arn", "?")), "reason": str(f.get("reason", ""))}
                            for f in response.get("failures", [])]
    return result
