"""ECS AppSpecs as tables: what validation accepts, what it refuses and why, and generation."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipyard.config import CapacityProvider, EnvironmentSettings, NetworkSettings, load_config
from shipyard.domain.appspec import (
    ECS_HOOKS,
    TASK_DEFINITION_PLACEHOLDER,
    build_appspec,
    parse_appspec,
    render_appspec,
    validate_appspec,
)

ROOT = Path(__file__).resolve().parents[3]
GAMEPULSE = ROOT / "GamePulse"
TASK_DEFINITION = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/gamepulse:7"
HOOK_ARN = "arn:aws:lambda:ap-northeast-2:123456789012:function:gamepulse-e2e"


def good() -> dict[str, Any]:
    """A valid AppSpec in AWS's own shape; each case below changes one thing."""
    return {
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": TASK_DEFINITION,
            "LoadBalancerInfo": {"ContainerName": "gamepulse", "ContainerPort": 8080},
        }}}],
        "Hooks": [{"BeforeInstall": "gp-before-install"}, {"AfterAllowTestTraffic": HOOK_ARN}],
    }


def properties(document: dict) -> dict:
    return document["Resources"][0]["TargetService"]["Properties"]


def changed(change) -> dict:
    document = good()
    change(document)
    return document


def with_hooks(*entries: dict) -> dict:
    return changed(lambda d: d.update(Hooks=list(entries)))


def with_properties(**values: Any) -> dict:
    return changed(lambda d: properties(d).update(values))


def without_property(*path: str) -> dict:
    def drop(document: dict) -> None:
        target = properties(document)
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return changed(drop)


@pytest.mark.parametrize(
    "document",
    [
        # AWS's shape, with a function name and a full function ARN
        good(),
        # no hooks at all: the section is optional
        changed(lambda d: d.pop("Hooks")),
        # the version as the string the CDK writes
        changed(lambda d: d.update(version="0.0")),
        # the placeholder the deploy step replaces
        with_properties(TaskDefinition=TASK_DEFINITION_PLACEHOLDER),
        # a task definition in another partition (China)
        with_properties(TaskDefinition="arn:aws-cn:ecs:cn-north-1:123456789012:"
                                       "task-definition/gp:12"),
        # every ECS hook, in lifecycle order
        with_hooks(*({name: f"fn-{index}"} for index, name in enumerate(ECS_HOOKS))),
        # Lambda's other name formats: partial ARN, alias, version, $LATEST, 64-character name
        with_hooks({"BeforeInstall": "123456789012:function:gp-check"},
                   {"AfterInstall": "gp-check:live"},
                   {"AfterAllowTestTraffic": f"{HOOK_ARN}:3"},
                   {"BeforeAllowTraffic": "gp-check:$LATEST"},
                   {"AfterAllowTraffic": "x" * 64}),
        # every optional property AWS documents
        with_properties(PlatformVersion="1.4.0",
                        NetworkConfiguration={"AwsvpcConfiguration": {
                            "Subnets": ["subnet-1234abcd"], "SecurityGroups": ["sg-12345678"],
                            "AssignPublicIp": "ENABLED"}},
                        CapacityProviderStrategy=[
                            {"CapacityProvider": "FARGATE_SPOT", "Base": 1, "Weight": 2},
                            {"CapacityProvider": "FARGATE", "Base": 0, "Weight": 1}]),
    ],
)
def test_valid_appspecs_have_no_problems(document: dict) -> None:
    assert validate_appspec(document) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # --- hooks: names ---
        # the brief's ApplicationStart: an EC2 hook; ECS starts containers itself
        (with_hooks({"ApplicationStart": "fn"}),
         "'ApplicationStart' is an EC2/on-premises hook, not an ECS one: ECS starts the "
         "containers itself; use AfterInstall"),
        # the brief's ApplicationStop: an EC2 hook; its work goes before the new task set
        (with_hooks({"ApplicationStop": "fn"}),
         "'ApplicationStop' is an EC2/on-premises hook, not an ECS one: ECS stops the original "
         "tasks itself; work that must precede the new version belongs in BeforeInstall"),
        # ValidateService: validate behind the test listener, or after production traffic
        (with_hooks({"ValidateService": "fn"}),
         "'ValidateService' is an EC2/on-premises hook, not an ECS one: validate in "
         "AfterAllowTestTraffic"),
        # EC2's traffic-blocking hooks have one ECS counterpart each
        (with_hooks({"BeforeBlockTraffic": "fn"}), "use BeforeAllowTraffic"),
        (with_hooks({"AfterBlockTraffic": "fn"}), "use AfterAllowTraffic"),
        # a step CodeDeploy runs itself cannot be hooked
        (with_hooks({"Install": "fn"}), "'Install' is a step CodeDeploy runs itself"),
        (with_hooks({"DownloadBundle": "fn"}), "ECS pulls the image itself; use BeforeInstall"),
        # a misspelling gets the nearest ECS hook
        (with_hooks({"AfterAllowTestTrafic": "fn"}),
         "'AfterAllowTestTrafic' is not an ECS lifecycle event; use BeforeInstall, "
         "AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic "
         "(did you mean 'AfterAllowTestTraffic'?)"),
        # wrong case is a different name to CodeDeploy
        (with_hooks({"beforeinstall": "fn"}), "(did you mean 'BeforeInstall'?)"),
        # --- hooks: shape ---
        # listed twice: CodeDeploy runs one function per event
        (with_hooks({"BeforeInstall": "a"}, {"BeforeInstall": "b"}),
         "Hooks: 'BeforeInstall' is listed twice"),
        # a mapping instead of AWS's list of one-key entries
        (changed(lambda d: d.update(Hooks={"BeforeInstall": "fn"})),
         "Hooks is a mapping; the AppSpec lists hooks, one per entry"),
        # two hooks in one entry
        (with_hooks({"BeforeInstall": "a", "AfterInstall": "b"}),
         "must be one 'Event: function' pair"),
        # neither list nor mapping
        (changed(lambda d: d.update(Hooks="BeforeInstall")), "Hooks must be a list"),
        # --- hooks: Lambda targets ---
        # a space is not allowed in a function name
        (with_hooks({"BeforeInstall": "my function"}), "not a Lambda function name"),
        # names are at most 64 characters
        (with_hooks({"BeforeInstall": "x" * 65}), "not a Lambda function name"),
        # the ARN of something that is not a Lambda function
        (with_hooks({"BeforeInstall": "arn:aws:sns:ap-northeast-2:123456789012:topic"}),
         "not a Lambda function name"),
        # an account ID has 12 digits
        (with_hooks({"BeforeInstall": "arn:aws:lambda:ap-northeast-2:12345:function:fn"}),
         "not a Lambda function name"),
        # a script path, as on EC2
        (with_hooks({"AfterInstall": "scripts/after_install.sh"}), "not a Lambda function name"),
        # no value at all
        (with_hooks({"AfterInstall": None}),
         "AfterInstall runs empty that is not a Lambda function name"),
        # --- TaskDefinition ---
        # missing
        (without_property("TaskDefinition"), "TaskDefinition is missing"),
        # family:revision is not an ARN
        (with_properties(TaskDefinition="gamepulse:7"),
         "TaskDefinition (text) is not a task-definition ARN"),
        # an ARN without the revision
        (with_properties(TaskDefinition=TASK_DEFINITION.rsplit(":", 1)[0]),
         "is not a task-definition ARN"),
        # --- LoadBalancerInfo ---
        (without_property("LoadBalancerInfo"), "LoadBalancerInfo is missing"),
        (without_property("LoadBalancerInfo", "ContainerName"),
         "LoadBalancerInfo.ContainerName is missing"),
        (without_property("LoadBalancerInfo", "ContainerPort"),
         "LoadBalancerInfo.ContainerPort is missing"),
        # ports are 1-65535
        (with_properties(LoadBalancerInfo={"ContainerName": "gp", "ContainerPort": 0}),
         "LoadBalancerInfo.ContainerPort is a number that is not a port; a port is a whole "
         "number from 1 to 65535"),
        (with_properties(LoadBalancerInfo={"ContainerName": "gp", "ContainerPort": 65536}),
         "ContainerPort is a number that is not a port"),
        # a quoted port is text, not a number
        (with_properties(LoadBalancerInfo={"ContainerName": "gp", "ContainerPort": "8080"}),
         "ContainerPort is text that is not a port"),
        # --- Resources ---
        # two target services
        (changed(lambda d: d["Resources"].append(copy.deepcopy(d["Resources"][0]))),
         "Resources lists 2 resources; an ECS deployment updates exactly one target service"),
        # a Lambda deployment's resource type
        (changed(lambda d: d["Resources"][0]["TargetService"].update(
            Type="AWS::Lambda::Function")),
         "Type is text, not AWS::ECS::Service; an ECS AppSpec deploys Type AWS::ECS::Service"),
        # no Type at all
        (changed(lambda d: d["Resources"][0]["TargetService"].pop("Type")),
         "Type is empty, not AWS::ECS::Service"),
        (changed(lambda d: d.update(Resources=[])), "Resources is empty"),
        (changed(lambda d: d.pop("Resources")), "Resources is missing"),
        # a mapping instead of a list
        (changed(lambda d: d.update(Resources=d["Resources"][0])), "Resources must be a list"),
        # a property AWS does not document (here a misspelling)
        (with_properties(Platformversion="LATEST"), "unknown property 'Platformversion'"),
        # --- top level and version ---
        (changed(lambda d: d.update(Extra=1)), "unknown top-level key 'Extra'"),
        # the EC2 spelling of the hooks section
        (changed(lambda d: d.update(hooks=d.pop("Hooks"))),
         "unknown top-level key 'hooks'; the ECS AppSpec spells it 'Hooks'"),
        # an EC2-only section
        (changed(lambda d: d.update(files=[])), "'files' is an EC2/on-premises section"),
        (changed(lambda d: d.update(version=1.0)),
         "version is a number other than 0.0; the only AppSpec version is 0.0"),
        # 0 and false compare equal to 0.0 in Python, but are not the version
        (changed(lambda d: d.update(version=0)), "version is a number other than 0.0;"),
        (changed(lambda d: d.update(version=False)), "version is true/false other than 0.0;"),
        (changed(lambda d: d.pop("version")), "version is missing"),
        # --- optional properties ---
        (with_properties(NetworkConfiguration={"AwsvpcConfiguration": {
            "Subnets": [], "AssignPublicIp": "ENABLED"}}), "Subnets is empty"),
        (with_properties(NetworkConfiguration={"AwsvpcConfiguration": {
            "Subnets": ["subnet-1"], "AssignPublicIp": "YES"}}),
         "AssignPublicIp is neither ENABLED nor DISABLED"),
        (with_properties(NetworkConfiguration={"Subnets": ["subnet-1"]}),
         "NetworkConfiguration must hold AwsvpcConfiguration"),
        (with_properties(CapacityProviderStrategy=[{"CapacityProvider": "FARGATE",
                                                    "Weight": 1001}]),
         "CapacityProviderStrategy[0].Weight is a number outside 0-1000"),
        (with_properties(PlatformVersion=1.4), "PlatformVersion must be text"),
        # --- not an AppSpec at all ---
        (["version", 0.0], "an AppSpec is a mapping"),
    ],
)
def test_invalid_appspecs_are_refused_with_the_fix(document: Any, expected: str) -> None:
    problems = validate_appspec(document)
    assert any(expected in problem for problem in problems), problems


def test_every_problem_is_reported_not_only_the_first() -> None:
    document = with_hooks({"ApplicationStart": "fn"}, {"ApplicationStop": "fn"})
    properties(document)["LoadBalancerInfo"]["ContainerPort"] = 70000
    document["version"] = 1
    problems = validate_appspec(document)
    assert len(problems) == 4
    assert [p.split("'")[1] for p in problems if p.startswith("Hooks:")] == [
        "ApplicationStart", "ApplicationStop"]


# --- reading files ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # JSON is told apart by its first character
        ('{"version": 0.0, "Hooks": []}', []),
        ("version: 0.0\nHooks: []\n", []),
        # a key given twice would otherwise be dropped silently, in either format
        ('{"Hooks": {"BeforeInstall": "a", "BeforeInstall": "b"}}',
         ["key 'BeforeInstall' appears twice; keep one"]),
        ("Hooks:\n  BeforeInstall: a\n  BeforeInstall: b\n",
         ["key 'BeforeInstall' appears twice; keep one"]),
        ("", ["the file is empty; an AppSpec needs version, Resources and Hooks"]),
    ],
)
def test_parse_appspec(text: str, expected: list[str]) -> None:
    assert parse_appspec(text)[1] == expected


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ('{"version": 0.0,', "not valid JSON (line 1"),
        ("Hooks: [a\n", "not valid YAML ("),
    ],
)
def test_parse_errors_say_where(text: str, start: str) -> None:
    document, problems = parse_appspec(text)
    assert document is None and len(problems) == 1 and problems[0].startswith(start)


# --- generation -------------------------------------------------------------------------

def settings(**values: Any) -> EnvironmentSettings:
    base = {"cluster": "c", "service": "s", "task_definition": Path("td.json"),
            "deployment": "blue_green", "container_name": "gp", "container_port": 8080}
    return EnvironmentSettings(**{**base, **values})


def test_generation_orders_hooks_by_lifecycle_and_leaves_out_unset_settings() -> None:
    scrambled = {"AfterAllowTraffic": "e", "BeforeInstall": "a", "AfterAllowTestTraffic": "c"}
    document = build_appspec(settings(hooks=scrambled))
    assert document == {
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": TASK_DEFINITION_PLACEHOLDER,
            "LoadBalancerInfo": {"ContainerName": "gp", "ContainerPort": 8080}}}}],
        "Hooks": [{"BeforeInstall": "a"}, {"AfterAllowTestTraffic": "c"},
                  {"AfterAllowTraffic": "e"}],
    }
    assert validate_appspec(document) == []


def test_generation_with_every_optional_setting() -> None:
    document = build_appspec(
        settings(platform_version="1.4.0",
                 network=NetworkSettings(subnets=("subnet-1", "subnet-2"),
                                         security_groups=("sg-1",), assign_public_ip="ENABLED"),
                 capacity_provider_strategy=(
                     CapacityProvider(capacity_provider="FARGATE_SPOT", base=1, weight=2),)),
        TASK_DEFINITION)
    assert properties(document) == {
        "TaskDefinition": TASK_DEFINITION,
        "LoadBalancerInfo": {"ContainerName": "gp", "ContainerPort": 8080},
        "PlatformVersion": "1.4.0",
        "NetworkConfiguration": {"AwsvpcConfiguration": {
            "Subnets": ["subnet-1", "subnet-2"], "SecurityGroups": ["sg-1"],
            "AssignPublicIp": "ENABLED"}},
        "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Base": 1,
                                      "Weight": 2}],
    }
    assert "Hooks" not in document
    assert validate_appspec(document) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # the brief's EC2 hook in config fails exactly as in a file
        ({"hooks": {"ApplicationStart": "gp-start"}},
         "Hooks: 'ApplicationStart' is an EC2/on-premises hook, not an ECS one: ECS starts the "
         "containers itself; use AfterInstall, which runs once the replacement task set is up"),
        # a blue/green environment needs the container behind the load balancer
        ({"container_name": ""}, "LoadBalancerInfo.ContainerName is missing"),
        ({"container_port": None}, "LoadBalancerInfo.ContainerPort is missing"),
    ],
)
def test_generated_appspecs_go_through_the_same_validation(values: dict, expected: str) -> None:
    problems = validate_appspec(build_appspec(settings(**values)))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("output_format", ["yaml", "json"])
def test_rendering_round_trips(output_format: str) -> None:
    document = build_appspec(settings(hooks={"BeforeInstall": "a"}), TASK_DEFINITION)
    text = render_appspec(document, output_format, header="made by a test")
    assert parse_appspec(text) == (document, [])
    assert text.startswith("# made by a test\n") == (output_format == "yaml")


def test_rendered_yaml_indents_lists_like_aws_examples() -> None:
    text = render_appspec(build_appspec(settings(hooks={"BeforeInstall": "a"})))
    assert "\nResources:\n  - TargetService:\n" in text
    assert "\nHooks:\n  - BeforeInstall: a\n" in text
    assert text.startswith("version: 0.0\n")


def test_gamepulse_production_matches_the_committed_appspec() -> None:
    """The committed file is what `shipyard appspec production` generates, and valid."""
    config = load_config(GAMEPULSE)
    committed = (GAMEPULSE / "deploy" / "appspec.yml").read_text()
    document, problems = parse_appspec(committed)
    assert problems == [] and validate_appspec(document) == []
    assert document == build_appspec(config.environment("production"))
    assert json.loads(json.dumps(document))["Hooks"] == [
        {"BeforeInstall": "CodeDeployHook_gamepulse-before-install"},
        {"AfterAllowTestTraffic": "CodeDeployHook_gamepulse-e2e-tests"},
        {"AfterAllowTraffic": "CodeDeployHook_gamepulse-after-traffic"},
    ]
    assert yaml.safe_load(committed)["version"] == 0.0


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,  # JSON
    '{"version": 0.0, "Resources": ' + "[" * 5_000 + "]" * 5_000 + "}",
    "a: " + "[" * 100_000 + "]" * 100_000,  # YAML flow
    "".join("  " * level + "k:\n" for level in range(3_000)),  # YAML block
])
def test_a_deeply_nested_appspec_is_a_problem_not_a_crash(text: str) -> None:
    document, problems = parse_appspec(text)
    assert document is None
    assert problems == [problems[0]] and problems[0].startswith("nested too deeply")
