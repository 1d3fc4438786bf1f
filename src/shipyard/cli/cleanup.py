"""`shipyard cleanup`: delete the images of the service's repository that [cleanup] lets go,
never one in use or one a kept image needs; a dry run unless --yes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import DryRun
from shipyard.errors import ShipyardError, UsageError


@app.command("cleanup")
def cleanup_command(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Delete what the plan says goes (without it: a dry run).")] = False,
    dry_run: DryRun = False,
    show_kept: Annotated[bool, typer.Option(
        "--show-kept", help="List every kept image and the rule that kept it, not only the "
        "counts.")] = False,
    lifecycle_policy: Annotated[bool, typer.Option(
        "--lifecycle-policy", help="Print the ECR lifecycle policy that carries the part of "
        "[cleanup] ECR can apply safely, and say which rules must stay here.")] = False,
    apply: Annotated[bool, typer.Option(
        "--apply", help="With --lifecycle-policy: put it on the repository "
        "(PutLifecyclePolicy).")] = False,
    task_definitions: Annotated[bool, typer.Option(
        "--task-definitions", help="Clean the services' task-definition revisions instead: "
        "beyond the newest [cleanup] keep_task_definitions, never one in use.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete the repository's images that [cleanup] in shipyard.toml lets go: old releases
    and prereleases, old untagged images. An image a service runs or deploys, a kept index's
    platform images and a kept image's signatures and SBOMs always stay. Without --yes it
    only shows the plan."""
    from shipyard.usecases.cleanup import plan_cleanup, run_cleanup

    state = session(ctx)
    config = state.config()
    context = state.context(config)
    out = Out(as_json)
    if apply and not lifecycle_policy:
        raise UsageError("--apply puts the lifecycle policy: pass it with --lifecycle-policy")
    if lifecycle_policy:
        _lifecycle(config, context, out, apply=apply and not dry_run)
        return
    if task_definitions:
        _revisions(config, context, out, dry_run=dry_run or not yes, show_kept=show_kept)
        return
    plan = plan_cleanup(config, context, now=datetime.now(UTC))
    result = run_cleanup(plan, context, dry_run=dry_run or not yes)
    if as_json:
        out.json(result.to_json())
    else:
        for line in cleanup_lines(result, show_kept=show_kept):
            out.line(line)
    if result.failures:
        raise ShipyardError(f"{len(result.failures)} of {len(plan.retention.deleted)} deletes "
                            f"failed (first: {result.failures[0]['digest']}: "
                            f"{result.failures[0]['code']} {result.failures[0]['reason']}); "
                            "run shipyard cleanup again to retry them")


def cleanup_lines(result: Any, *, show_kept: bool) -> list[str]:
    """The plan as a table: what goes and why, what stays and which rule kept it."""
    plan = result.plan
    retention = plan.retention
    deleted, kept = retention.deleted, retention.kept
    lines = [f"cleanup {plan.target.registry}/{plan.target.repository}: "
             f"{len(retention.decisions)} images, {len(deleted)} to delete, {len(kept)} kept "
             f"(in use in {', '.join(plan.clusters) or 'no cluster'}: {len(plan.in_use)})"]
    rows = [("DELETE", d) for d in deleted]
    if show_kept:
        rows += [("KEEP", d) for d in kept]
    else:
        rows += [("KEEP", d) for d in kept if d.reason.startswith(("in use", "child of",
                                                                   "attached to"))]
    width = max((len(_tags(d)) for _, d in rows), default=0)
    for verdict, decision in rows:
        image = decision.image
        lines.append(f"{verdict:<6}  {image.digest[7:19]}  {_tags(decision):<{width}}  "
                     f"{image.pushed_at:%Y-%m-%d %H:%M}  {decision.reason}")
    if not show_kept and len(kept) > sum(1 for v, _ in rows if v == "KEEP"):
        lines.append("(kept by the rules alone: not listed; --show-kept lists them)")
    if result.dry_run:
        lines.append("dry run: nothing deleted" + ("" if not deleted else
                                                  "; run with --yes to delete"))
    else:
        lines.append(f"deleted {len(result.deleted)} images in {result.calls} "
                     "BatchDeleteImage calls" + (f"; {len(result.failures)} failed"
                                                 if result.failures else ""))
    return lines


def _tags(decision: Any) -> str:
    tags = decision.image.tags
    text = ", ".join(tags[:3]) + (f" +{len(tags) - 3}" if len(tags) > 3 else "")
    return text or "(untagged)"


def _revisions(config: Any, context: Any, out: Out, *, dry_run: bool, show_kept: bool) -> None:
    from shipyard.usecases.cleanup_revisions import plan_revision_cleanup, run_revision_cleanup

    result = run_revision_cleanup(plan_revision_cleanup(config, context), context,
                                  dry_run=dry_run)
    if out.as_json:
        out.json(result.to_json())
    else:
        for line in revision_lines(result, show_kept=show_kept):
            out.line(line)
    if result.failures:
        first = result.failures[0]
        raise ShipyardError(f"{len(result.failures)} task definitions were not deleted "
                            f"(first: {first['arn']}: {first['reason']}); run shipyard "
                            "cleanup --task-definitions again to retry them")


def revision_lines(result: Any, *, show_kept: bool) -> list[str]:
    plan = result.plan
    going = plan.deleted
    lines = [f"cleanup task definitions of {', '.join(plan.families) or 'no running service'}"
             f": {len(plan.decisions)} revisions, {len(going)} to delete, "
             f"{len(plan.decisions) - len(going)} kept (the newest {plan.keep} per family, "
             "and those in use)"]
    rows = [d for d in plan.decisions if d.delete or show_kept or d.reason.startswith("in use")]
    width = max((len(d.arn.rsplit("/", 1)[-1]) for d in rows), default=0)
    for decision in rows:
        name = decision.arn.rsplit("/", 1)[-1]
        lines.append(f"{'DELETE' if decision.delete else 'KEEP':<6}  {name:<{width}}  "
                     f"{decision.status:<8}  {decision.reason}")
    if result.dry_run:
        lines.append("dry run: nothing deregistered or deleted" + (
            "; run with --yes to do it" if going else ""))
    else:
        lines.append(f"deregistered {len(result.deregistered)}, deleted {len(result.deleted)}"
                     + (f"; {len(result.failures)} failed" if result.failures else ""))
    return lines


def _lifecycle(config: Any, context: Any, out: Out, *, apply: bool) -> None:
    """The lifecycle policy on stdout (or in --json's `policy`), what stays in cleanup on
    stderr; with --apply, put on the repository."""
    from shipyard.domain.lifecycle import lifecycle_plan
    from shipyard.usecases.cleanup import policy_of
    from shipyard.usecases.target import resolve_target

    plan = lifecycle_plan(policy_of(config), config.cleanup.never_deployed)
    target = None
    if apply:
        target = resolve_target(config, context)
        context.ecr.put_lifecycle_policy(target.repository, plan.document())
    if out.as_json:
        out.json({"policy": {"rules": list(plan.rules)}, "applied": apply,
                  "repository": target.repository if target else None,
                  "stays_in_cleanup": [{"rule": r, "why": w} for r, w in plan.stays_in_cleanup]})
        return
    out.line(plan.document())
    for rule, why in plan.stays_in_cleanup:
        out.info(f"stays in shipyard cleanup: {rule}: {why}")
    if target is not None:
        out.info(f"put on {target.repository} ({len(plan.rules)} rules)")
