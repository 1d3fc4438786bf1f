"""The compliance gate: what an image must be before `deploy` puts it in an environment.

`[environments.NAME.policy]` names the rules; each is checked by reading only (the registry,
ECR's scan findings, ECS), never by starting anything:

* `signed`: the image and each platform image carry a signature by one of the keys
  (`verify-image`'s check);
* `sbom`: each platform image has an SBOM attached (`sha256-<hex>.sbom`), itself signed by one
  of the keys when `signed` is asked too;
* `scan`: ECR has finished findings on each platform image, and they pass [scan] threshold
  and allowlist (an image never scanned fails: the gate does not start a scan);
* `labels`: the image carries these OCI labels, each non-empty;
* `promoted_from`: that environment's service runs this very digest now (its PRIMARY
  deployment, or PRIMARY task set), so what reaches production is what staging ran.

Every rule is checked, whatever the others say, so a refusal names all that failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipyard.config import Config, PolicySettings
from shipyard.domain.names import parse_image_reference
from shipyard.domain.sbom import sbom_tag
from shipyard.domain.scan_policy import evaluate, findings_from_ecr
from shipyard.errors import PolicyError, ShipyardError
from shipyard.usecases.context import Context
from shipyard.usecases.target import Target


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    detail: str


@dataclass
class PolicyResult:
    environment: str
    image: str
    rules: list[RuleResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(rule.passed for rule in self.rules)

    @property
    def failures(self) -> list[RuleResult]:
        return [rule for rule in self.rules if not rule.passed]

    def summary(self) -> dict[str, Any]:
        return {"environment": self.environment, "image": self.image, "passed": self.passed,
                "rules": [{"rule": r.rule, "passed": r.passed, "detail": r.detail}
                          for r in self.rules]}


def enforce_policy(result: PolicyResult) -> None:
    """PolicyError naming every failed rule, when one failed."""
    if result.passed:
        return
    failed = "; ".join(f"{rule.rule}: {rule.detail}" for rule in result.failures)
    raise PolicyError(f"the policy of {result.environment} refuses {result.image}: {failed}; "
                      "meet each rule (sign it, attach SBOMs, scan it, deploy it to the "
                      "environment it must be promoted from) or change "
                      f"[environments.{result.environment}.policy]")


def image_digest(image: str, target: Target, ctx: Context) -> str:
    """The digest an image reference (`@sha256:…`, `:tag`, or a full reference into the
    target's repository) names, asked of ECR for a tag."""
    reference = parse_image_reference(image, registry=target.registry,
                                      repository=target.repository)
    if (reference.registry, reference.repository) != (target.registry, target.repository):
        raise PolicyError(f"image {image} is not in {target.image_base}; the policy checks "
                          "images of the service's repository")
    return reference.digest or ctx.ecr.resolve(target.repository, reference.tag or "latest")


def check_policy(environment: str, digest: str, config: Config, ctx: Context,
                 target: Target) -> PolicyResult | None:
    """Every rule of the environment's policy for `target`'s image `digest`; None when the
    environment has no policy."""
    policy = config.environment(environment).policy
    if policy is None:
        return None
    return check_rules(policy, environment, digest, config, ctx, target)


def check_rules(policy: PolicySettings, environment: str, digest: str, config: Config,
                ctx: Context, target: Target) -> PolicyResult:
    """The rules `policy` asks for, checked for `target`'s image `digest`."""
    result = PolicyResult(environment, f"{target.image_base}@{digest}")
    checks: list[tuple[str, bool, Callable[[], tuple[bool, str]]]] = [
        ("signed", policy.signed, lambda: _signed(config, ctx, target, digest, policy)),
        ("sbom", policy.sbom, lambda: _sbom(config, ctx, target, digest, policy)),
        ("scan", policy.scan, lambda: _scan(config, ctx, target, digest)),
        ("labels", bool(policy.labels), lambda: _labels(ctx, target, digest, policy)),
        ("promoted", bool(policy.promoted_from),
         lambda: _promoted(config, ctx, target, digest, policy.promoted_from)),
    ]
    for rule, wanted, check in checks:
        if wanted:
            try:
                passed, detail = check()
            except ShipyardError as exc:  # a rule that cannot be checked does not pass
                passed, detail = False, f"could not be checked ({exc.message})"
            result.rules.append(RuleResult(rule, passed, detail))
    return result


def _keys(config: Config, ctx: Context, policy: PolicySettings) -> list[Any]:
    from shipyard.adapters.signing_keys import open_key
    from shipyard.usecases.verify_image import open_verify_keys

    if policy.keys:
        return [open_key(name, kms=lambda: ctx.kms, env=ctx.env, base=config.project_dir)
                for name in policy.keys]
    return open_verify_keys(config, ctx, [])


def _signed(config: Config, ctx: Context, target: Target, digest: str,
            policy: PolicySettings) -> tuple[bool, str]:
    from shipyard.usecases.verify_image import verify_image

    verdict = verify_image(ctx, target, digest, _keys(config, ctx, policy))
    if verdict.verified:
        signer = verdict.manifests[-1].verified_by
        return True, f"{len(verdict.manifests)} manifests signed by {signer.key if signer else '?'}"
    bad = verdict.failures[0]
    return False, (f"{len(verdict.failures)} of {len(verdict.manifests)} manifests unsigned "
                   f"({bad.platform}: {bad.reason})")


def _sbom(config: Config, ctx: Context, target: Target, digest: str,
          policy: PolicySettings) -> tuple[bool, str]:
    from shipyard.usecases.image_signatures import image_manifests
    from shipyard.usecases.verify_image import verify_image

    login = ctx.ecr.login(target.account_id).for_host(target.registry)
    with ctx.registry(target.registry, auth=login) as registry:
        platforms = [m for m in image_manifests(registry, target.repository, digest)
                     if m.platform not in ("index", "unknown/unknown")]
        found = {m.platform: registry.manifest_digest(target.repository, sbom_tag(m.digest))
                 for m in platforms}
    missing = [platform for platform, sbom in found.items() if sbom is None]
    if missing:
        return False, f"no SBOM attached to {', '.join(missing)}"
    if policy.signed:
        keys = _keys(config, ctx, policy)
        for platform, sbom in found.items():
            assert sbom is not None
            if not verify_image(ctx, target, sbom, keys).verified:
                return False, f"the SBOM of {platform} ({sbom[:19]}…) is not signed by the keys"
        return True, f"{len(found)} SBOMs attached and signed"
    return True, f"{len(found)} SBOMs attached"


def _scan(config: Config, ctx: Context, target: Target, digest: str) -> tuple[bool, str]:
    from shipyard.usecases.scan import (
        BASIC_DONE,
        ENHANCED_DONE,
        platform_images,
        scan_options_from_config,
    )

    options = scan_options_from_config(config, target.repository, digest)
    done = ENHANCED_DONE if ctx.ecr.scan_type() == "ENHANCED" else BASIC_DONE
    findings = []
    for child, platform in platform_images(ctx.ecr, target.repository, digest):
        response = ctx.ecr.scan_findings(target.repository, child)
        status = (response or {}).get("imageScanStatus", {}).get("status", "")
        if response is None or status not in done:
            return False, (f"{platform or 'the image'} has no finished scan (status "
                           f"{status or 'none'}); run shipyard scan")
        findings.extend(findings_from_ecr(response, child, platform))
    decision = evaluate(findings, options.threshold, options.allowlist, ctx.today())
    if not decision.passed:
        worst = decision.blocking[0]
        return False, (f"{len(decision.blocking)} finding(s) at or above {decision.threshold}, "
                       f"e.g. {worst.id} in {worst.package}")
    return True, f"no finding at or above {decision.threshold} ({len(findings)} in all)"


def _labels(ctx: Context, target: Target, digest: str,
            policy: PolicySettings) -> tuple[bool, str]:
    from shipyard.usecases.image_labels import image_labels

    labels = image_labels(ctx, target, target.repository, digest)
    missing = [label for label in policy.labels if not labels.get(label)]
    if missing:
        return False, f"missing {', '.join(missing)}"
    return True, ", ".join(f"{label}={labels[label]}" for label in policy.labels)


def _promoted(config: Config, ctx: Context, target: Target, digest: str,
              source: str) -> tuple[bool, str]:
    settings = config.environment(source)
    service = ctx.ecs.service(settings.cluster, settings.service)
    if service is None:
        return False, f"{source}'s service {settings.service} does not exist"
    definitions = [d.get("taskDefinition", "") for d in service.get("deployments") or []
                   if d.get("status") == "PRIMARY"]
    definitions += [t.get("taskDefinition", "") for t in service.get("taskSets") or []
                    if t.get("status") == "PRIMARY"]
    running = set()
    for arn in filter(None, definitions):
        for container in ctx.ecs.task_definition(arn).get("containerDefinitions") or []:
            reference = parse_image_reference(str(container.get("image", "")),
                                              registry=target.registry,
                                              repository=target.repository)
            if (reference.registry, reference.repository) == (target.registry,
                                                              target.repository):
                running.add(reference.digest or ctx.ecr.resolve(target.repository,
                                                                 reference.tag or "latest"))
    if digest in running:
        return True, f"{source} runs it ({settings.service})"
    shown = ", ".join(sorted(d[:19] + "…" for d in running)) or "no image of this repository"
    return False, f"{source} does not run it ({settings.service} runs {shown}); deploy it to " \
        f"{source} first"
