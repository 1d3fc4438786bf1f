"""Check a whole ECS AppSpec: the top-level keys, version, the target service and its
properties; the Hooks section is checked by `hooks`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.domain.appspec.hooks import hooks_problems
from shipyard.domain.appspec.schema import (
    ECS_SERVICE_TYPE,
    TASK_DEFINITION_ARN,
    TASK_DEFINITION_PLACEHOLDER,
)
from shipyard.domain.appspec.shown import key as shown_key
from shipyard.domain.appspec.shown import kind
from shipyard.domain.appspec.shown import name as shown_name

_TOP_LEVEL = ("version", "Resources", "Hooks")
_EC2_SECTIONS = ("os", "files", "permissions", "file_exists_behavior")
_PROPERTIES = ("TaskDefinition", "LoadBalancerInfo", "PlatformVersion", "NetworkConfiguration",
               "CapacityProviderStrategy")


def validate_appspec(document: Any, lines: Mapping[str, int] | None = None) -> list[str]:
    """Every reason CodeDeploy would refuse `document` as an ECS AppSpec ([] when it is fine).

    Problems name keys (with their line, from `lines`, when known) and kinds of values,
    never a value: the file may not be an AppSpec at all, but someone's credentials.

    >>> validate_appspec({"version": 0.0, "Resources": []})
    ['Resources is empty; list one TargetService of Type AWS::ECS::Service']
    """
    if not isinstance(document, dict):
        return ["an AppSpec is a mapping of version, Resources and Hooks"]
    problems = [_at((lines or {}).get(key)) + _unknown_top_level(key)
                for key in document if key not in _TOP_LEVEL]
    if "version" not in document:
        problems.append("version is missing; set version: 0.0")
    elif not _is_version_zero(document["version"]):
        problems.append(f"version is {kind(document['version'])} other than 0.0; the only "
                        "AppSpec version is 0.0")
    problems += _resources_problems(document.get("Resources"))
    if "Hooks" in document:
        problems += hooks_problems(document["Hooks"])
    return problems


def _is_version_zero(value: Any) -> bool:
    # AWS writes the number 0.0; the string "0.0" (as the CDK writes it) is accepted too.
    return (type(value) is float and value == 0.0) or value == "0.0"


def _at(line: int | None) -> str:
    return f"line {line}: " if line else ""


def _unknown_top_level(key: Any) -> str:
    if key in _EC2_SECTIONS:
        return f"'{key}' is an EC2/on-premises section; an ECS AppSpec has only {_listed()}"
    for known in _TOP_LEVEL:
        if str(key).lower() == known.lower():
            return f"unknown top-level key '{key}'; the ECS AppSpec spells it '{known}'"
    return f"unknown top-level key {shown_key(key)}; an ECS AppSpec has only {_listed()}"


def _listed() -> str:
    return ", ".join(_TOP_LEVEL[:-1]) + " and " + _TOP_LEVEL[-1]


def _resources_problems(resources: Any) -> list[str]:
    if resources is None:
        return [f"Resources is missing; list one TargetService of Type {ECS_SERVICE_TYPE}"]
    if not isinstance(resources, list):
        return ["Resources must be a list: '- TargetService: {Type: ..., Properties: ...}'"]
    if not resources:
        return [f"Resources is empty; list one TargetService of Type {ECS_SERVICE_TYPE}"]
    problems = []
    if len(resources) > 1:
        problems.append(f"Resources lists {len(resources)} resources; an ECS deployment "
                        "updates exactly one target service")
    for entry in resources:
        if not isinstance(entry, dict) or len(entry) != 1:
            problems.append("each Resources entry is one named resource: "
                            "'- TargetService: {Type: ..., Properties: ...}'")
            continue
        [(name, resource)] = entry.items()
        problems += [f"{shown_name(name, 'a resource')}: {p}" for p in _service_problems(resource)]
    return problems


def _service_problems(resource: Any) -> list[str]:
    if not isinstance(resource, dict):
        return ["must hold Type and Properties"]
    problems = []
    if resource.get("Type") != ECS_SERVICE_TYPE:
        problems.append(f"Type is {kind(resource.get('Type'))}, not {ECS_SERVICE_TYPE}; an ECS "
                        f"AppSpec deploys Type {ECS_SERVICE_TYPE}")
    problems += [f"unknown key {shown_key(key)} (only Type and Properties)"
                 for key in resource if key not in ("Type", "Properties")]
    properties = resource.get("Properties")
    if not isinstance(properties, dict):
        return [*problems, "Properties is missing; set TaskDefinition and LoadBalancerInfo"]
    problems += [f"unknown property {shown_key(key)} (known: {', '.join(_PROPERTIES)})"
                 for key in properties if key not in _PROPERTIES]
    if "TaskDefinition" not in properties:
        problems.append(f"TaskDefinition is missing; set a task-definition ARN or "
                        f"{TASK_DEFINITION_PLACEHOLDER} for the pipeline to fill in")
    else:
        problems += _maybe(task_definition_problem(properties["TaskDefinition"]))
    problems += _balancer_problems(properties.get("LoadBalancerInfo"))
    if not isinstance(properties.get("PlatformVersion", ""), str):
        problems.append("PlatformVersion must be text, e.g. LATEST or 1.4.0")
    if "NetworkConfiguration" in properties:
        problems += _network_problems(properties["NetworkConfiguration"])
    if "CapacityProviderStrategy" in properties:
        problems += _strategy_problems(properties["CapacityProviderStrategy"])
    return problems


def task_definition_problem(value: Any) -> str | None:
    """Why `value` cannot be an AppSpec's TaskDefinition, or None when it can."""
    if value == TASK_DEFINITION_PLACEHOLDER or (
            isinstance(value, str) and TASK_DEFINITION_ARN.match(value)):
        return None
    return (f"TaskDefinition ({kind(value)}) is not a task-definition ARN "
            "(arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>) "
            f"nor the placeholder {TASK_DEFINITION_PLACEHOLDER}")


def _balancer_problems(balancer: Any) -> list[str]:
    if not isinstance(balancer, dict):
        return ["LoadBalancerInfo is missing; set ContainerName and ContainerPort of the "
                "container behind the load balancer"]
    problems = [f"LoadBalancerInfo: unknown key {shown_key(key)} (only ContainerName and "
                "ContainerPort)"
                for key in balancer if key not in ("ContainerName", "ContainerPort")]
    name = balancer.get("ContainerName")
    if not isinstance(name, str) or not name:
        problems.append("LoadBalancerInfo.ContainerName is missing; name the container "
                        "behind the load balancer")
    port = balancer.get("ContainerPort")
    if port is None:
        problems.append("LoadBalancerInfo.ContainerPort is missing; set the port the load "
                        "balancer sends traffic to")
    elif type(port) is not int or not 1 <= port <= 65535:
        problems.append(f"LoadBalancerInfo.ContainerPort is {kind(port)} that is not a port; "
                        "a port is a whole number from 1 to 65535")
    return problems


def _network_problems(network: Any) -> list[str]:
    vpc = network.get("AwsvpcConfiguration") if isinstance(network, dict) else None
    if not isinstance(vpc, dict):
        return ["NetworkConfiguration must hold AwsvpcConfiguration (Subnets, SecurityGroups, "
                "AssignPublicIp)"]
    problems = []
    for key, required in (("Subnets", True), ("SecurityGroups", False)):
        ids = vpc.get(key, [] if not required else None)
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            problems.append(f"AwsvpcConfiguration.{key} must be a list of IDs")
        elif required and not ids:
            problems.append(f"AwsvpcConfiguration.{key} is empty; awsvpc tasks need a subnet")
    if vpc.get("AssignPublicIp", "DISABLED") not in ("ENABLED", "DISABLED"):
        problems.append("AwsvpcConfiguration.AssignPublicIp is neither ENABLED nor DISABLED; "
                        "use ENABLED or DISABLED")
    return problems


def _strategy_problems(strategy: Any) -> list[str]:
    if not isinstance(strategy, list) or not strategy:
        return ["CapacityProviderStrategy must be a list of {CapacityProvider, Base, Weight}"]
    problems = []
    for index, item in enumerate(strategy):
        where = f"CapacityProviderStrategy[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("CapacityProvider"), str):
            problems.append(f"{where} needs CapacityProvider (e.g. FARGATE)")
            continue
        # ECS's limits: base 0-100000, weight 0-1000.
        for key, top in (("Base", 100_000), ("Weight", 1_000)):
            value = item.get(key, 0)
            if type(value) is not int or not 0 <= value <= top:
                problems.append(f"{where}.{key} is {kind(value)} outside 0-{top}; use a whole "
                                f"number 0-{top}")
    return problems


def _maybe(problem: str | None) -> list[str]:
    return [problem] if problem else []
