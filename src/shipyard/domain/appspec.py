"""The CodeDeploy AppSpec for an ECS blue/green deployment: build it, render it, check it.

The format is AWS's (CodeDeploy user guide, "AppSpec file example for an Amazon ECS
deployment" and "AppSpec 'hooks' section")::

    version: 0.0
    Resources:
      - TargetService:
          Type: AWS::ECS::Service
          Properties:
            TaskDefinition: arn:aws:ecs:...:task-definition/family:3
            LoadBalancerInfo: {ContainerName: app, ContainerPort: 8080}
            # optional: PlatformVersion, NetworkConfiguration, CapacityProviderStrategy
    Hooks:
      - BeforeInstall: my-lambda-function
      - AfterAllowTestTraffic: arn:aws:lambda:...:function:e2e

`validate_appspec` returns every problem, not just the first, so one run tells the user all
there is to fix; the generator runs it on what it builds, so a bad `[environments.X.hooks]`
fails with the same message as a bad file.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import yaml

from shipyard.config import EnvironmentSettings

# CodePipeline's ECS blue/green action (CodeDeployToECS) replaces this literal text with the
# ARN of the task definition it registers; aws-actions/amazon-ecs-deploy-task-definition
# overwrites TaskDefinition whatever it holds. A committed AppSpec therefore carries this
# placeholder, and `--task-definition ARN` fills it for a direct `aws deploy create-deployment`.
TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"
ECS_SERVICE_TYPE = "AWS::ECS::Service"
FORMATS = ("yaml", "json")

# The only events CodeDeploy lets an ECS deployment hook, in the order they run.
ECS_HOOKS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic",
             "AfterAllowTraffic")

_EC2 = "is an EC2/on-premises hook, not an ECS one"
_RESERVED = "is a step CodeDeploy runs itself and no hook can run at it"
# Where the work of a non-ECS hook belongs in an ECS deployment, and why.
HOOK_GUIDANCE = {
    # EC2 runs ApplicationStop on the old revision before installing the new one. ECS stops
    # the original task set itself once traffic has moved; work that must come before the new
    # version exists runs in BeforeInstall, before the replacement task set is created.
    "ApplicationStop": f"{_EC2}: ECS stops the original tasks itself; work that must precede "
                       "the new version belongs in BeforeInstall",
    # EC2 runs ApplicationStart to start the installed app. ECS starts the containers itself;
    # AfterInstall runs once the replacement task set is up, which is where checks of it go.
    "ApplicationStart": f"{_EC2}: ECS starts the containers itself; use AfterInstall, which "
                        "runs once the replacement task set is up",
    # ValidateService checks the new revision. ECS offers two points: AfterAllowTestTraffic
    # (behind the test listener, before any user sees it, so a failure rolls back unseen) and
    # AfterAllowTraffic (after production traffic has moved).
    "ValidateService": f"{_EC2}: validate in AfterAllowTestTraffic (behind the test listener, "
                       "before users see it) or AfterAllowTraffic (after production traffic "
                       "moved)",
    # ECS has no separate block-traffic step: traffic leaves the original task set when it
    # moves to the replacement, between BeforeAllowTraffic and AfterAllowTraffic.
    "BeforeBlockTraffic": f"{_EC2}: ECS moves traffic off the original tasks in one step; use "
                          "BeforeAllowTraffic",
    "AfterBlockTraffic": f"{_EC2}: ECS moves traffic off the original tasks in one step; use "
                         "AfterAllowTraffic",
    "DownloadBundle": f"{_RESERVED} (EC2/on-premises): ECS pulls the image itself; use "
                      "BeforeInstall",
    "BlockTraffic": f"{_RESERVED} (EC2/on-premises); use BeforeAllowTraffic or "
                    "AfterAllowTraffic",
    "Install": f"{_RESERVED}; use BeforeInstall or AfterInstall",
    "TestTraffic": f"{_RESERVED}; use AfterAllowTestTraffic",
    "AllowTraffic": f"{_RESERVED}; use BeforeAllowTraffic or AfterAllowTraffic",
    "Start": f"{_RESERVED}; use BeforeInstall",
    "End": f"{_RESERVED}; use AfterAllowTraffic",
}

# Lambda's FunctionName formats (Lambda API reference): a name of 1-64 letters, digits, '-'
# or '_'; a partial ARN `<account>:function:<name>`; a full ARN. Any of them may end in
# `:<version or alias>`, and CodeDeploy passes the value to Invoke as given.
_QUALIFIER = r"(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?"
_LAMBDA_NAME = r"[A-Za-z0-9_-]{1,64}"
_REGION = r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d"
LAMBDA_TARGET = re.compile(
    rf"^((arn:aws[a-z-]*:lambda:{_REGION}:)?\d{{12}}:function:)?{_LAMBDA_NAME}{_QUALIFIER}$")
# A task-definition family is up to 255 letters, digits, '-' or '_'; revisions start at 1.
TASK_DEFINITION_ARN = re.compile(
    rf"^arn:aws[a-z-]*:ecs:{_REGION}:\d{{12}}:task-definition/[A-Za-z0-9_-]{{1,255}}:[1-9]\d*$")

_TOP_LEVEL = ("version", "Resources", "Hooks")
_EC2_SECTIONS = ("os", "files", "permissions", "file_exists_behavior")
_PROPERTIES = ("TaskDefinition", "LoadBalancerInfo", "PlatformVersion", "NetworkConfiguration",
               "CapacityProviderStrategy")


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


def parse_appspec(text: str) -> tuple[Any, list[str]]:
    """Read an AppSpec, JSON or YAML by its content: (document, problems reading it).

    Repeated keys are reported: both parsers would otherwise keep the last one silently.
    """
    if not text.strip():
        return None, ["the file is empty; an AppSpec needs version, Resources and Hooks"]
    repeated: list[str] = []
    if text.lstrip().startswith(("{", "[")):
        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [key for key, _ in items]
            repeated.extend(key for key in dict.fromkeys(keys) if keys.count(key) > 1)
            return dict(items)
        try:
            document = json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            return None, [f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]
    else:
        loader = _StrictLoader(text)
        try:
            document = loader.get_single_data()
        except yaml.YAMLError as exc:
            return None, [f"not valid YAML ({' '.join(str(exc).split())})"]
        finally:
            loader.dispose()
        repeated = loader.repeated
    return document, [f"key '{key}' appears twice; keep one" for key in repeated]


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that notes repeated mapping keys instead of dropping all but the last."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeated: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        keys = [self.construct_object(key, deep=True) for key, _ in node.value]
        hashable = [key for key in keys if isinstance(key, str | int | float | bool)]
        self.repeated.extend(str(k) for k in dict.fromkeys(hashable) if hashable.count(k) > 1)
        return super().construct_mapping(node, deep=deep)


def validate_appspec(document: Any) -> list[str]:
    """Every reason CodeDeploy would refuse `document` as an ECS AppSpec ([] when it is fine).

    >>> validate_appspec({"version": 0.0, "Resources": []})
    ['Resources is empty; list one TargetService of Type AWS::ECS::Service']
    """
    if not isinstance(document, dict):
        return ["an AppSpec is a mapping of version, Resources and Hooks"]
    problems = [_unknown_top_level(key) for key in document if key not in _TOP_LEVEL]
    if "version" not in document:
        problems.append("version is missing; set version: 0.0")
    elif not _is_version_zero(document["version"]):
        problems.append(f"version is {document['version']!r}; the only AppSpec version is 0.0")
    problems += _resources_problems(document.get("Resources"))
    if "Hooks" in document:
        problems += hooks_problems(document["Hooks"])
    return problems


def _is_version_zero(value: Any) -> bool:
    # AWS writes the number 0.0; the string "0.0" (as the CDK writes it) is accepted too.
    return (type(value) is float and value == 0.0) or value == "0.0"


def _unknown_top_level(key: Any) -> str:
    if key in _EC2_SECTIONS:
        return f"'{key}' is an EC2/on-premises section; an ECS AppSpec has only {_listed()}"
    for known in _TOP_LEVEL:
        if str(key).lower() == known.lower():
            return f"unknown top-level key '{key}'; the ECS AppSpec spells it '{known}'"
    return f"unknown top-level key '{key}'; an ECS AppSpec has only {_listed()}"


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
        problems += [f"{name}: {p}" for p in _service_problems(resource)]
    return problems


def _service_problems(resource: Any) -> list[str]:
    if not isinstance(resource, dict):
        return ["must hold Type and Properties"]
    problems = []
    if resource.get("Type") != ECS_SERVICE_TYPE:
        problems.append(f"Type is {resource.get('Type')!r}; an ECS AppSpec deploys "
                        f"Type {ECS_SERVICE_TYPE}")
    problems += [f"unknown key '{key}' (only Type and Properties)"
                 for key in resource if key not in ("Type", "Properties")]
    properties = resource.get("Properties")
    if not isinstance(properties, dict):
        return [*problems, "Properties is missing; set TaskDefinition and LoadBalancerInfo"]
    problems += [f"unknown property '{key}' (known: {', '.join(_PROPERTIES)})"
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
    return (f"TaskDefinition {value!r} is not a task-definition ARN "
            "(arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>) "
            f"nor the placeholder {TASK_DEFINITION_PLACEHOLDER}")


def _balancer_problems(balancer: Any) -> list[str]:
    if not isinstance(balancer, dict):
        return ["LoadBalancerInfo is missing; set ContainerName and ContainerPort of the "
                "container behind the load balancer"]
    problems = [f"LoadBalancerInfo: unknown key '{key}' (only ContainerName and ContainerPort)"
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
        problems.append(f"LoadBalancerInfo.ContainerPort is {port!r}; a port is a whole "
                        "number from 1 to 65535")
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
        problems.append(f"AwsvpcConfiguration.AssignPublicIp is {vpc['AssignPublicIp']!r}; "
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
                problems.append(f"{where}.{key} is {value!r}; use a whole number 0-{top}")
    return problems


def hooks_problems(hooks: Any) -> list[str]:
    """Problems with a Hooks section: its shape, each event name, each Lambda target."""
    problems = []
    if isinstance(hooks, dict):
        # AWS documents a list of one-key entries; a plain mapping is the usual slip.
        problems.append("Hooks is a mapping; the AppSpec lists hooks, one per entry: "
                        "'- BeforeInstall: my-function'")
        entries = [{name: target} for name, target in hooks.items()]
    elif isinstance(hooks, list):
        entries = hooks
    else:
        return ["Hooks must be a list of entries like '- BeforeInstall: my-function'"]
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1:
            problems.append(f"Hooks entry {entry!r} must be one 'Event: function' pair")
            continue
        [(name, target)] = entry.items()
        if name in seen:
            problems.append(f"Hooks: '{name}' is listed twice; CodeDeploy runs one function "
                            "per event, so keep one")
        seen.add(name)
        problems += _maybe(hook_name_problem(name))
        problems += _maybe(lambda_target_problem(name, target))
    return problems


def hook_name_problem(name: Any) -> str | None:
    """Why `name` is not an ECS lifecycle event a hook can run at, or None when it is."""
    if name in ECS_HOOKS:
        return None
    if name in HOOK_GUIDANCE:
        return f"Hooks: '{name}' {HOOK_GUIDANCE[name]}"
    by_lower = {hook.lower(): hook for hook in ECS_HOOKS}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1)
    hint = f" (did you mean '{by_lower[close[0]]}'?)" if close else ""
    return (f"Hooks: '{name}' is not an ECS lifecycle event; use {', '.join(ECS_HOOKS)}{hint}")


def lambda_target_problem(name: Any, target: Any) -> str | None:
    """Why `target` cannot be the Lambda function hooked at `name`, or None when it can."""
    if isinstance(target, str) and LAMBDA_TARGET.match(target):
        return None
    return (f"Hooks: {name} runs {target!r}, which is not a Lambda function name (1-64 "
            "letters, digits, '-', '_') or ARN (arn:aws:lambda:<region>:<account>:function:"
            "<name>)")


def _maybe(problem: str | None) -> list[str]:
    return [problem] if problem else []
