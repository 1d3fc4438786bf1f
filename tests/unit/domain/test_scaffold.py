"""What `shipyard init` writes, as tables: the answers it refuses and why, the files it makes,
and that those files are what the config loader and ECS's own model accept."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from shipyard.config import Config
from shipyard.domain.resource_names import name_from_folder
from shipyard.domain.scaffold import (
    ScaffoldAnswers,
    answers_problems,
    appspec_paths,
    scaffold_files,
    task_definition_text,
)
from shipyard.domain.taskdef import TemplateContext, model_problems, render_template

BASE = ScaffoldAnswers(name="orders")
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("folder", "name"), [
    ("orders", "orders"),                  # already a name
    ("Game Pulse_API", "game-pulse-api"),  # lowercased; spaces and '_' become one '-'
    ("--my..svc--", "my-svc"),             # no '-' at either end, runs collapsed
    ("x", "service"),                      # ECR wants at least two characters
    ("日本", "service"),                    # nothing usable left
    ("a" * 60, "a" * 40),                  # cut to 40, leaving room in IAM role names
])
def test_name_from_folder(folder: str, name: str) -> None:
    assert name_from_folder(folder) == name


@pytest.mark.parametrize("answers", [
    BASE,                                                                  # every default
    replace(BASE, repository="team/orders.api", cluster="Shared_Cluster"),  # ECR/ECS grammars
    replace(BASE, port=1, cpu_architecture="ARM64", health_path="/_/ready-v2.json"),
    replace(BASE, environments=("dev",), blue_green=()),                   # one rolling env
    replace(BASE, environments=("a1", "b2", "c3"), blue_green=("b2", "c3")),
    replace(BASE, name="o" * 40, environments=("qa",), blue_green=()),     # role of 53 chars
])
def test_answers_that_make_a_working_project(answers: ScaffoldAnswers) -> None:
    assert answers_problems(answers) == []


@pytest.mark.parametrize(("answers", "problem"), [
    # '.' is fine in ECR but not in a task family or container name
    (replace(BASE, name="my.app"), "--name 'my.app' is not a valid name"),
    (replace(BASE, name="Orders"), "try 'orders'"),                   # ECR is lowercase
    (replace(BASE, name="a"), "2-40 lowercase"),                      # too short for ECR
    (replace(BASE, name="a--b"), "--name 'a--b'"),                    # one separator at a time
    (replace(BASE, repository="Team/Orders"), "--repository 'Team/Orders'"),
    (replace(BASE, repository="a//b"), "not a valid ECR repository name"),
    (replace(BASE, cluster="my cluster"), "--cluster 'my cluster'"),
    (replace(BASE, region="Seoul"), "--region 'Seoul' is not an AWS region"),
    (replace(BASE, port=0), "--port 0 is not a port"),
    (replace(BASE, port=65536), "--port 65536"),
    (replace(BASE, cpu_architecture="x86"), "--cpu-architecture 'x86'"),
    (replace(BASE, health_path="health"), "start it with '/'"),       # not a path
    (replace(BASE, health_path="/h;reboot"), "--health-path"),        # shell syntax
    (replace(BASE, health_path="/h 1"), "--health-path"),
    (replace(BASE, environments=(), blue_green=()), "no environment"),
    (replace(BASE, environments=("qa", "qa"), blue_green=()), "--environment qa is given twice"),
    (replace(BASE, environments=("Prod",), blue_green=()), "--environment 'Prod'"),
    (replace(BASE, blue_green=("canary",)), "--blue-green canary is not an environment"),
    # IAM role names are at most 64 characters: NAME-ENV-execution is 65 here
    (replace(BASE, name="o" * 40, environments=("production-eu1",), blue_green=()),
     "longer than IAM's 64 characters"),
])
def test_answers_refused_with_the_reason(answers: ScaffoldAnswers, problem: str) -> None:
    problems = answers_problems(answers)
    assert len(problems) == 1, problems  # one cause, one line (no echo from derived names)
    assert problem in problems[0]
    assert ";" in problems[0]  # every message says how to fix it


@pytest.mark.parametrize(("answers", "paths"), [
    (BASE, ["shipyard.toml", "version.txt", "deploy/ecs-task-definition-staging.json",
            "deploy/ecs-task-definition-production.json"]),
    (replace(BASE, environments=("dev",), blue_green=()),
     ["shipyard.toml", "version.txt", "deploy/ecs-task-definition-dev.json"]),
])
def test_files_made(answers: ScaffoldAnswers, paths: list[str]) -> None:
    files = scaffold_files(answers)
    assert list(files) == paths
    assert files["version.txt"] == "0.1.0\n"


@pytest.mark.parametrize(("answers", "appspecs"), [
    (BASE, {"production": "deploy/appspec.yml"}),                      # as GamePulse has it
    (replace(BASE, blue_green=()), {}),                                # all rolling: none
    (replace(BASE, blue_green=("staging", "production")),              # one file each
     {"staging": "deploy/appspec-staging.yml", "production": "deploy/appspec-production.yml"}),
])
def test_appspec_paths(answers: ScaffoldAnswers, appspecs: dict[str, str]) -> None:
    assert appspec_paths(answers) == appspecs


VARIANTS = [
    BASE,
    replace(BASE, name="pay_api", repository="team/pay", cluster="shared", region="us-east-1",
            port=9000, cpu_architecture="ARM64", health_path="/ready",
            environments=("dev", "prod"), blue_green=("dev", "prod")),
]


@pytest.mark.parametrize("answers", VARIANTS)
def test_config_loads_with_the_answers(answers: ScaffoldAnswers) -> None:
    text = scaffold_files(answers)["shipyard.toml"]
    config = Config.model_validate(tomllib.loads(text))
    assert (config.service.name, config.service.region, config.service.repository) == (
        answers.name, answers.region, answers.repository_name)
    platform = "linux/arm64" if answers.cpu_architecture == "ARM64" else "linux/amd64"
    assert config.build.platforms == (platform,)
    assert list(config.environments) == list(answers.environments)
    paths = appspec_paths(answers)
    for name, settings in config.environments.items():
        assert settings.cluster == answers.cluster_name
        assert settings.service == f"{answers.name}-{name}"
        assert (settings.container_name, settings.container_port) == (answers.name, answers.port)
        assert settings.task_definition == Path(f"deploy/ecs-task-definition-{name}.json")
        blue_green = name in answers.blue_green
        assert settings.deployment == ("blue_green" if blue_green else "rolling")
        assert settings.appspec == (Path(paths[name]) if blue_green else None)
        assert settings.values["log_group"] == f"/ecs/{answers.name}-{name}"
        assert settings.values["cpu_architecture"] == answers.cpu_architecture


@pytest.mark.parametrize("answers", VARIANTS)
def test_task_definitions_render_to_what_ecs_accepts(answers: ScaffoldAnswers) -> None:
    config = Config.model_validate(tomllib.loads(scaffold_files(answers)["shipyard.toml"]))
    for environment in answers.environments:
        text = task_definition_text(answers, environment)
        image = f"127.0.0.1:5000/{answers.repository_name}@{DIGEST}"
        context = TemplateContext(
            variables={"image": image, "environment": environment, "account_id": "123456789012",
                       "region": answers.region},
            values=config.environments[environment].values, environ={},
            secret_arn=lambda name: None, parameter=lambda name: None)
        definition = render_template("td.json", lambda name, text=text: (text, name),
                                     context)
        assert model_problems(definition) == []
        assert definition["requiresCompatibilities"] == ["FARGATE"]
        assert definition["networkMode"] == "awsvpc"
        assert definition["runtimePlatform"]["cpuArchitecture"] == answers.cpu_architecture
        role = f"arn:aws:iam::123456789012:role/{answers.name}-{environment}"
        assert definition["executionRoleArn"] == f"{role}-execution"
        assert definition["taskRoleArn"] == f"{role}-task"
        [container] = definition["containerDefinitions"]
        assert container["image"] == image
        assert container["portMappings"][0]["containerPort"] == answers.port
        url = f"http://127.0.0.1:{answers.port}{answers.health_path}"
        assert container["healthCheck"]["command"][0] == "CMD-SHELL"
        assert url in container["healthCheck"]["command"][1]
        options = container["logConfiguration"]["options"]
        assert options["awslogs-group"] == f"/ecs/{answers.name}-{environment}"
        assert options["awslogs-region"] == answers.region
        assert options["awslogs-create-group"] == "true"


def test_production_gets_more_cpu_and_memory_than_the_others() -> None:
    config = Config.model_validate(tomllib.loads(scaffold_files(BASE)["shipyard.toml"]))
    sizes = {name: (env.values["cpu"], env.values["memory"])
             for name, env in config.environments.items()}
    assert sizes == {"staging": ("512", "1024"), "production": ("1024", "2048")}
