"""Build an ECS AppSpec from `[environments.NAME]` settings and render it as YAML or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import yaml

from shipyard.domain.appspec.schema import ECS_HOOKS, ECS_SERVICE_TYPE, TASK_DEFINITION_PLACEHOLDER


class Network(Protocol):
    @property
    def subnets(self) -> Sequence[str]: ...
    @property
    def security_groups(self) -> Sequence[str]: ...
    @property
    def assign_public_ip(self) -> str: ...


class CapacityProvider(Protocol):
    @property
    def capacity_provider(self) -> str: ...
    @property
    def base(self) -> int: ...
    @property
    def weight(self) -> int: ...


class EnvironmentSettings(Protocol):
    """What an AppSpec is built from; `[environments.NAME]` in shipyard.toml is one."""

    @property
    def container_name(self) -> str: ...
    @property
    def container_port(self) -> int | None: ...
    @property
    def platform_version(self) -> str: ...
    @property
    def network(self) -> Network | None: ...
    @property
    def capacity_provider_strategy(self) -> Sequence[CapacityProvider]: ...
    @property
    def hooks(self) -> Mapping[str, str]: ...


def build_appspec(settings: EnvironmentSettings,
                  task_definition: str = TASK_DEFINITION_PLACEHOLDER) -> dict[str, Any]:
    """The AppSpec for one `[environments.NAME]`; unset optional settings are left out.

    Nothing is checked here: pass the result to `validate_appspec`. Hooks come out in
    lifecycle order, then any unknown names (so validation can name them).
    """
    balancer: dict[str, Any] = {}
    if settings.container_name:
        balancer["ContainerName"] = settings.container_name
    if settings.container_port is not None:
        balancer["ContainerPort"] = settings.container_port
    properties: dict[str, Any] = {"TaskDefinition": task_definition,
                                  "LoadBalancerInfo": balancer}
    if settings.platform_version:
        properties["PlatformVersion"] = settings.platform_version
    if settings.network is not None:
        vpc: dict[str, Any] = {"Subnets": list(settings.network.subnets)}
        if settings.network.security_groups:
            vpc["SecurityGroups"] = list(settings.network.security_groups)
        vpc["AssignPublicIp"] = settings.network.assign_public_ip
        properties["NetworkConfiguration"] = {"AwsvpcConfiguration": vpc}
    if settings.capacity_provider_strategy:
        properties["CapacityProviderStrategy"] = [
            {"CapacityProvider": p.capacity_provider, "Base": p.base, "Weight": p.weight}
            for p in settings.capacity_provider_strategy
        ]
    document: dict[str, Any] = {
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": ECS_SERVICE_TYPE, "Properties": properties}}],
    }
    rank = {name: index for index, name in enumerate(ECS_HOOKS)}
    ordered = sorted(settings.hooks.items(), key=lambda item: rank.get(item[0], len(rank)))
    if ordered:
        document["Hooks"] = [{name: target} for name, target in ordered]
    return document


def render_appspec(document: dict[str, Any], output_format: str = "yaml",
                   header: str = "") -> str:
    """The document as YAML (with `header` as `#` comment lines on top) or as JSON."""
    if output_format == "json":
        return json.dumps(document, indent=2) + "\n"
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    body = yaml.dump(document, Dumper=_IndentedDumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True, width=100)
    return comments + body


class _IndentedDumper(yaml.SafeDumper):
    """Indent lists under their key, as AWS's examples do (PyYAML's default does not)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)
