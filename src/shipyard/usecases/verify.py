"""`shipyard verify ENV`: everything a deploy of ENV would trip on, checked before it runs.

Each check reads only; all run, so one report shows every problem:
- the rendered definition against botocore's own ECS model (not a hand-written schema);
- every image in our registry exists for the platform the task runs on;
- secrets, log groups, roles, the cluster and the EFS file systems exist;
- the service's load balancer names a container and port that the definition has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shipyard.adapters import efs, iam, logs
from shipyard.adapters.ecr import Ecr
from shipyard.adapters.ecs import Ecs
from shipyard.adapters.secretsmanager import SecretsManager
from shipyard.adapters.ssm import ParameterStore
from shipyard.config import Config
from shipyard.domain.taskdef import model_problems
from shipyard.errors import ShipyardError, VerificationError
from shipyard.usecases.render import EnvironmentDeps, RenderResult, render_environment

ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}  # runtimePlatform -> OCI architecture


@dataclass(frozen=True)
class Check:
    """One verified fact: what was checked, whether it holds, and the detail."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class VerifyResult:
    render: RenderResult
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.render.environment, "image": self.render.image,
                "ok": not self.failed,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail}
                           for c in self.checks]}


def verify_environment(name: str, image: str | None, config: Config, deps: EnvironmentDeps
                       ) -> VerifyResult:
    """Render ENV without failing on the model, then run every check."""
    rendered = render_environment(name, image, config, deps, check_model=False)
    definition = rendered.definition
    settings = config.environment(name)
    checks = [_model(definition)]
    checks += _images(rendered, deps)
    checks += _secrets(definition, deps)
    checks += _log_groups(definition, deps)
    checks += _roles(definition, deps)
    checks += _file_systems(definition, deps)
    cluster = Ecs(deps.aws).cluster(settings.cluster)
    checks.append(Check(f"cluster {settings.cluster}", cluster is not None,
                        "active" if cluster else "missing or not ACTIVE"))
    if cluster is not None:
        checks += _service(definition, settings, deps)
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
    return Check("definition", not problems, detail)


def _containers(definition: dict[str, Any]) -> list[dict[str, Any]]:
    containers = definition.get("containerDefinitions", [])
    return [c for c in containers if isinstance(c, dict)]


def _images(rendered: RenderResult, deps: EnvironmentDeps) -> list[Check]:
    architecture = (rendered.definition.get("runtimePlatform") or {}).get(
        "cpuArchitecture", "X86_64")
    wanted = ARCHITECTURES.get(architecture, architecture.lower())
    prefix = f"{rendered.target.registry}/"
    checks = []
    for container in _containers(rendered.definition):
        image = str(container.get("image", ""))
        name = f"image of {container.get('name')}"
        if not image.startswith(prefix) or "@" not in image:
            checks.append(Check(name, True, f"{image}: outside {rendered.target.registry} or "
                                            "not pinned, not checked"))
            continue
        repository, _, digest = image[len(prefix):].partition("@")
        checks.append(_image_check(name, Ecr(deps.aws), repository, digest, wanted))
    return checks


def _image_check(name: str, ecr: Ecr, repository: str, digest: str, wanted: str) -> Check:
    try:
        manifest, _media_type = ecr.image_manifest(repository, digest)
    except ShipyardError as exc:
        return Check(name, False, f"{repository}@{digest[:19]}… is not in ECR ({exc})")
    parsed = json.loads(manifest)
    if "manifests" not in parsed:
        # A single-platform image: ECR's manifest alone does not say its architecture, and
        # the build that made it did; accept it, saying so.
        return Check(name, True, f"{repository}@{digest[:19]}… exists (single platform)")
    platforms = {m.get("platform", {}).get("architecture") for m in parsed["manifests"]}
    ok = wanted in platforms
    have = ", ".join(sorted(p for p in platforms if p)) or "none"
    return Check(name, ok, f"{repository}@{digest[:19]}… has linux/{wanted}" if ok else
                 f"{repository}@{digest[:19]}… has no linux/{wanted} image (it has {have}); "
                 "build with --multi-arch or change runtimePlatform")


def _secrets(definition: dict[str, Any], deps: EnvironmentDeps) -> list[Check]:
    manager, store = SecretsManager(deps.aws), ParameterStore(deps.aws)
    checks = []
    for container in _containers(definition):
        for secret in container.get("secrets", []):
            source = str(secret.get("valueFrom", ""))
            if ":secretsmanager:" in source:
                # ARN[:json-key:version-stage:version-id]: the secret is the first 7 fields.
                secret_id = ":".join(source.split(":")[:7])
                ok = manager.secret_arn(secret_id) is not None
            else:
                ok = store.exists(source)  # GetParameter takes a name or an ARN as given
            checks.append(Check(f"secret {secret.get('name')}", ok,
                                source if ok else f"{source} does not exist"))
    return checks


def _log_groups(definition: dict[str, Any], deps: EnvironmentDeps) -> list[Check]:
    groups = {}
    for container in _containers(definition):
        options = (container.get("logConfiguration") or {}).get("options") or {}
        if "awslogs-group" in options:
            created = options.get("awslogs-create-group") == "true"
            groups[options["awslogs-group"]] = groups.get(options["awslogs-group"]) or created
    checks = []
    for group, created_on_start in groups.items():
        ok = created_on_start or logs.log_group_exists(deps.aws, group)
        checks.append(Check(f"log group {group}", ok, "exists" if ok else "missing; create it "
                            "or set awslogs-create-group"))
    return checks


def _roles(definition: dict[str, Any], deps: EnvironmentDeps) -> list[Check]:
    checks = []
    for key in ("executionRoleArn", "taskRoleArn"):
        arn = definition.get(key)
        if arn:
            role = str(arn).rsplit("/", 1)[-1]
            ok = iam.role_exists(deps.aws, role)
            checks.append(Check(f"{key} {role}", ok, "exists" if ok else f"{arn} does not exist"))
    return checks


def _file_systems(definition: dict[str, Any], deps: EnvironmentDeps) -> list[Check]:
    checks = []
    for volume in definition.get("volumes", []):
        config = volume.get("efsVolumeConfiguration") or {}
        if "fileSystemId" in config:
            ok = efs.file_system_exists(deps.aws, config["fileSystemId"])
            checks.append(Check(f"EFS {config['fileSystemId']}", ok,
                                "exists" if ok else "missing"))
    return checks


def _service(definition: dict[str, Any], settings: Any, deps: EnvironmentDeps) -> list[Check]:
    service = Ecs(deps.aws).service(settings.cluster, settings.service)
    if service is None:
        return [Check(f"service {settings.service}", False,
                      f"not in cluster {settings.cluster}; create it first")]
    checks = [Check(f"service {settings.service}", True, "exists")]
    ports = {(c.get("name"), m.get("containerPort")) for c in _containers(definition)
             for m in c.get("portMappings", [])}
    for target in service.get("loadBalancers", []):
        wanted = (target.get("containerName"), target.get("containerPort"))
        ok = wanted in ports
        checks.append(Check("load balancer target", ok,
                            f"{wanted[0]}:{wanted[1]}" + ("" if ok else " is not a container "
                                                          "port of this definition")))
    if settings.container_name and settings.container_port:
        ok = (settings.container_name, settings.container_port) in ports
        checks.append(Check("configured container", ok,
                            f"{settings.container_name}:{settings.container_port}"
                            + ("" if ok else " is not a container port of this definition")))
    return checks
