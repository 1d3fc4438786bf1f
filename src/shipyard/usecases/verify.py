"""`shipyard verify ENV`: everything a deploy of ENV would trip on, checked before it runs.

Each check reads only; all run, so one report shows every problem. A check ends `ok`, `fail`,
or `skipped` with the reason it could not be made: a check that did not run never says ok.
- the rendered definition against botocore's own ECS model (not a hand-written schema);
- every image in our registry exists for the platform the task runs on (an index's platform
  list, or a single image's config);
- secrets, SSM parameters, log groups, roles, the cluster and the EFS file systems exist (a
  lookup a template makes that finds nothing is a failed check, not an abort);
- the service's load balancer names a container and port that the definition has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shipyard.adapters.credentials import RegistryLogin
from shipyard.config import Config
from shipyard.domain.taskdef import model_problems
from shipyard.errors import NotFoundError, VerificationError
from shipyard.usecases.context import Context
from shipyard.usecases.render import MISSING_PREFIX, RenderResult, render_environment

ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}  # runtimePlatform -> OCI architecture
OK, FAIL, SKIPPED = "ok", "fail", "skipped"


@dataclass(frozen=True)
class Check:
    """One verified fact: what was checked, how it ended (ok, fail, skipped), and why."""

    name: str
    status: str
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == FAIL


def check(name: str, ok: bool, detail: str) -> Check:
    return Check(name, OK if ok else FAIL, detail)


@dataclass(frozen=True)
class VerifyResult:
    render: RenderResult
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.failed)

    @property
    def skipped(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == SKIPPED)

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.render.environment, "image": self.render.image,
                "ok": not self.failed, "failed": len(self.failed),
                "skipped": len(self.skipped),
                "checks": [{"name": c.name, "status": c.status, "detail": c.detail}
                           for c in self.checks]}


def verify_environment(name: str, image: str | None, config: Config, ctx: Context
                       ) -> VerifyResult:
    """Render ENV without failing on the model or on missing lookups, then run every check."""
    missing: list[str] = []
    rendered = render_environment(name, image, config, ctx, check_model=False, missing=missing)
    definition = rendered.definition
    settings = config.environment(name)
    checks = [_model(definition)]
    checks += [Check(f"template lookup {what}", FAIL, "does not exist; create it or fix the "
                     "name") for what in missing]
    checks += _images(rendered, ctx)
    checks += _secrets(definition, ctx)
    checks += _log_groups(definition, ctx)
    checks += _roles(definition, ctx)
    checks += _file_systems(definition, ctx)
    cluster = ctx.ecs.cluster(settings.cluster)
    checks.append(check(f"cluster {settings.cluster}", cluster is not None,
                        "active" if cluster else "missing or not ACTIVE"))
    if cluster is not None:
        checks += _service(definition, settings, ctx)
    else:
        checks.append(Check(f"service {settings.service}", SKIPPED,
                            f"not looked up: cluster {settings.cluster} is missing"))
    return VerifyResult(rendered, tuple(checks))


def enforce(result: VerifyResult) -> None:
    """Raise VerificationError naming the failed checks (after the caller showed them)."""
    if result.failed:
        first = result.failed[0]
        more = f" (and {len(result.failed) - 1} more)" if len(result.failed) > 1 else ""
        raise VerificationError(f"verify {result.render.environment}: {first.name}: "
                                f"{first.detail}{more}; fix these before deploying")


def _model(definition: dict[str, Any]) -> Check:
    problems = model_problems(definition)
    detail = "valid for ecs:RegisterTaskDefinition" if not problems else "; ".join(problems)
    return check("definition", not problems, detail)


def _containers(definition: dict[str, Any]) -> list[dict[str, Any]]:
    containers = definition.get("containerDefinitions", [])
    return [c for c in containers if isinstance(c, dict)]


def _images(rendered: RenderResult, ctx: Context) -> list[Check]:
    architecture = (rendered.definition.get("runtimePlatform") or {}).get(
        "cpuArchitecture", "X86_64")
    wanted = ARCHITECTURES.get(architecture, architecture.lower())
    registry = rendered.target.registry
    images = _ImageInspector(ctx, rendered)
    checks = []
    for container in _containers(rendered.definition):
        image = str(container.get("image", ""))
        name = f"image of {container.get('name')}"
        if not image.startswith(f"{registry}/"):
            checks.append(Check(name, SKIPPED, f"{image}: outside {registry}, which Shipyard "
                                "cannot inspect; check it exists for linux/" + wanted))
        elif "@" not in image:
            checks.append(Check(name, FAIL, f"{image} is not pinned by digest; a tag can move "
                                "between verify and deploy: use {{ image }} or REPO@sha256:..."))
        else:
            repository, _, digest = image[len(registry) + 1:].partition("@")
            checks.append(images.check(name, repository, digest, wanted))
    return checks


class _ImageInspector:
    """Reads manifests through ECR and, for a single-platform image, its config through the
    registry (the manifest alone does not say the architecture)."""

    def __init__(self, ctx: Context, rendered: RenderResult) -> None:
        self.ctx, self.target = ctx, rendered.target
        self._login: RegistryLogin | None = None

    def check(self, name: str, repository: str, digest: str, wanted: str) -> Check:
        short = f"{repository}@{digest[:19]}…"
        try:
            manifest, _media_type = self.ctx.ecr.image_manifest(repository, digest)
        except NotFoundError:
            return Check(name, FAIL, f"{short} is not in ECR; push it first")
        parsed = json.loads(manifest)
        if "manifests" in parsed:
            platforms = {m.get("platform", {}).get("architecture")
                         for m in parsed["manifests"]}
        else:
            platforms = {self._config_architecture(repository, parsed)}
        have = ", ".join(sorted(p for p in platforms if p)) or "none"
        if wanted in platforms:
            return Check(name, OK, f"{short} has linux/{wanted}")
        return Check(name, FAIL, f"{short} has no linux/{wanted} image (it has {have}); "
                     "build with --multi-arch or change runtimePlatform")

    def _config_architecture(self, repository: str, manifest: dict[str, Any]) -> str | None:
        config_digest = (manifest.get("config") or {}).get("digest", "")
        if self._login is None:
            self._login = self.ctx.ecr.login(self.target.account_id).for_host(
                self.target.registry)
        with self.ctx.registry(self.target.registry, auth=self._login) as registry:
            config = json.loads(registry.get_small_blob(repository, config_digest))
        architecture = config.get("architecture") if isinstance(config, dict) else None
        return architecture if isinstance(architecture, str) else None


def _secrets(definition: dict[str, Any], ctx: Context) -> list[Check]:
    manager, store = ctx.secrets, ctx.parameters
    checks = []
    for container in _containers(definition):
        for secret in container.get("secrets", []):
            source = str(secret.get("valueFrom", ""))
            if source.startswith(MISSING_PREFIX):
                continue  # a template lookup that found nothing: already a failed check
            if ":secretsmanager:" in source:
                # ARN[:json-key:version-stage:version-id]: the secret is the first 7 fields.
                secret_id = ":".join(source.split(":")[:7])
                ok = manager.secret_arn(secret_id) is not None
            else:
                ok = store.exists(source)  # GetParameter takes a name or an ARN as given
            checks.append(check(f"secret {secret.get('name')}", ok,
                                source if ok else f"{source} does not exist"))
    return checks


def _log_groups(definition: dict[str, Any], ctx: Context) -> list[Check]:
    groups: dict[str, bool] = {}  # log group -> created by the awslogs driver on start
    for container in _containers(definition):
        options = (container.get("logConfiguration") or {}).get("options") or {}
        if "awslogs-group" in options:
            created = options.get("awslogs-create-group") == "true"
            groups[options["awslogs-group"]] = groups.get(options["awslogs-group"]) or created
    checks = []
    for group, created_on_start in groups.items():
        ok = created_on_start or ctx.logs.log_group_exists(group)
        checks.append(check(f"log group {group}", ok, "exists" if ok else "missing; create it "
                            "or set awslogs-create-group"))
    return checks


def _roles(definition: dict[str, Any], ctx: Context) -> list[Check]:
    checks = []
    for key in ("executionRoleArn", "taskRoleArn"):
        arn = definition.get(key)
        if arn:
            role = str(arn).rsplit("/", 1)[-1]
            ok = ctx.iam.role_exists(role)
            checks.append(check(f"{key} {role}", ok, "exists" if ok else f"{arn} does not exist"))
    return checks


def _file_systems(definition: dict[str, Any], ctx: Context) -> list[Check]:
    checks = []
    for volume in definition.get("volumes", []):
        config = volume.get("efsVolumeConfiguration") or {}
        if "fileSystemId" in config:
            ok = ctx.efs.file_system_exists(config["fileSystemId"])
            checks.append(check(f"EFS {config['fileSystemId']}", ok,
                                "exists" if ok else "missing"))
    return checks


def _service(definition: dict[str, Any], settings: Any, ctx: Context) -> list[Check]:
    service = ctx.ecs.service(settings.cluster, settings.service)
    if service is None:
        return [check(f"service {settings.service}", False,
                      f"not in cluster {settings.cluster}; create it first")]
    checks = [check(f"service {settings.service}", True, "exists")]
    ports = {(c.get("name"), m.get("containerPort")) for c in _containers(definition)
             for m in c.get("portMappings", [])}
    for target in service.get("loadBalancers", []):
        wanted = (target.get("containerName"), target.get("containerPort"))
        ok = wanted in ports
        checks.append(check("load balancer target", ok,
                            f"{wanted[0]}:{wanted[1]}" + ("" if ok else " is not a container "
                                                          "port of this definition")))
    if settings.container_name and settings.container_port:
        ok = (settings.container_name, settings.container_port) in ports
        checks.append(check("configured container", ok,
                            f"{settings.container_name}:{settings.container_port}"
                            + ("" if ok else " is not a container port of this definition")))
    return checks
