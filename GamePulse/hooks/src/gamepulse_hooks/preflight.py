"""BeforeInstall: the task definition being deployed can start, before any task is made.

Checks: the definition is ACTIVE; it holds the AppSpec's container with the AppSpec's port;
each image in this account's ECR exists (DescribeImages) and, when it is an index, has the
task's CPU architecture (BatchGetImage); each secret exists and is not scheduled for deletion
(Secrets Manager DescribeSecret; Parameter Store secrets with DescribeParameters). Values are
never read: DescribeSecret and DescribeParameters answer metadata only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gamepulse_hooks import images
from gamepulse_hooks.checks import Findings
from gamepulse_hooks.deployment import Target, container


@dataclass(frozen=True)
class Clients:
    ecr: Any
    secretsmanager: Any
    ssm: Any


def check_definition(definition: dict[str, Any], target: Target, findings: Findings) -> None:
    family = f"{definition.get('family')}:{definition.get('revision')}"
    findings.check(definition.get("status") == "ACTIVE",
                   f"task definition {family} is {definition.get('status')}")
    app = container(definition, target.container_name)
    if app is None:
        findings.fail(f"task definition {family} has no container {target.container_name}, "
                      "which the AppSpec's LoadBalancerInfo names")
        return
    ports = {m.get("containerPort") for m in app.get("portMappings") or []}
    findings.check(target.container_port in ports,
                   f"container {target.container_name} maps port {target.container_port}")


def check_images(ecr: Any, definition: dict[str, Any], hosts: set[str],
                 findings: Findings) -> None:
    architecture = (definition.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
    wanted = images.ARCHITECTURES.get(architecture, architecture.lower())
    for item in definition.get("containerDefinitions", []):
        name, image = item.get("name"), str(item.get("image", ""))
        ref = images.parse_image(image)
        if ref.host not in hosts:
            findings.note(f"image of {name}, {image}: outside this account's ECR")
            continue
        detail = images.describe(ecr, ref)
        if detail is None:
            findings.fail(f"image of {name}, {image}: not in ECR (push it first)")
            continue
        try:
            found = images.platforms(ecr, ref, detail["imageDigest"])
        except LookupError as exc:
            findings.fail(f"image of {name}, {image}: BatchGetImage did not return it ({exc})")
            continue
        if found is None:
            findings.ok(f"image of {name} is in ECR ({detail['imageDigest'][:19]}…; one "
                        "platform, which its manifest does not name)")
        else:
            findings.check(wanted in found,
                           f"image of {name} is in ECR with linux/{wanted} (it has "
                           f"{', '.join(sorted(found)) or 'no linux image'})")


def _parameter_name(source: str) -> str:
    """A Parameter Store secret's name from its ARN or name (`...:parameter/a/b` is /a/b,
    `...:parameter/a` is a)."""
    if not source.startswith("arn:"):
        return source
    path = source.split(":parameter", 1)[1]
    return path if path.count("/") > 1 else path.lstrip("/")


def check_secrets(clients: Clients, definition: dict[str, Any], findings: Findings) -> None:
    for item in definition.get("containerDefinitions", []):
        for secret in item.get("secrets") or []:
            label = f"secret {secret.get('name')} of {item.get('name')}"
            source = str(secret.get("valueFrom", ""))
            if ":secretsmanager:" in source:
                # ARN[:json-key:version-stage:version-id]: the secret is its first 7 fields.
                secret_id = ":".join(source.split(":")[:7])
                try:
                    described = clients.secretsmanager.describe_secret(SecretId=secret_id)
                except clients.secretsmanager.exceptions.ResourceNotFoundException:
                    findings.fail(f"{label}: {secret_id} does not exist")
                    continue
                findings.check("DeletedDate" not in described,
                               f"{label}: {described.get('Name')} exists"
                               + (" but is scheduled for deletion"
                                  if "DeletedDate" in described else ""))
            else:
                name = _parameter_name(source)
                found = clients.ssm.describe_parameters(ParameterFilters=[
                    {"Key": "Name", "Option": "Equals", "Values": [name]}])["Parameters"]
                findings.check(bool(found), f"{label}: parameter {name} "
                               + ("exists" if found else "does not exist"))


def preflight(clients: Clients, definition: dict[str, Any], target: Target,
              hosts: set[str]) -> Findings:
    findings = Findings()
    check_definition(definition, target, findings)
    check_images(clients.ecr, definition, hosts, findings)
    check_secrets(clients, definition, findings)
    return findings
