"""`shipyard appspec` through the real CLI: generate, write, check, and refuse bad config."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

import shipyard.cli.appspec  # noqa: F401  (registers the command; harmless once cli imports it)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GAMEPULSE = ROOT / "GamePulse"
ARN = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/svc-production:42"

CONFIG = """
[environments.staging]
cluster = "c"
service = "svc-staging"
task_definition = "deploy/td.json"
deployment = "rolling"
container_name = "app"
container_port = 8080

[environments.production]
cluster = "c"
service = "svc-production"
task_definition = "deploy/td.json"
deployment = "blue_green"
container_name = "app"
container_port = 8080

[environments.production.hooks]
BeforeInstall = "svc-before-install"
AfterAllowTestTraffic = "svc-e2e"
"""

VALID = """version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo: {ContainerName: app, ContainerPort: 8080}
Hooks:
  - AfterAllowTestTraffic: svc-e2e
"""


@pytest.fixture
def service(repo):
    """The `repo` fixture with a rolling staging and a blue/green production configured."""
    repo.commit("config", shipyard__toml=CONFIG)
    return repo


def test_generates_yaml_with_the_placeholder(service, shipyard) -> None:
    result = shipyard(service, "appspec", "production")
    assert result.code == 0, result.err
    document = yaml.safe_load(result.out)
    assert document["version"] == 0.0
    target = document["Resources"][0]["TargetService"]
    assert target["Type"] == "AWS::ECS::Service"
    assert target["Properties"] == {"TaskDefinition": "<TASK_DEFINITION>",
                                    "LoadBalancerInfo": {"ContainerName": "app",
                                                         "ContainerPort": 8080}}
    assert document["Hooks"] == [{"BeforeInstall": "svc-before-install"},
                                 {"AfterAllowTestTraffic": "svc-e2e"}]
    assert "TaskDefinition is <TASK_DEFINITION>: the deploy step puts the registered ARN" in (
        result.err)


def test_generates_json_with_a_task_definition(service, shipyard) -> None:
    result = shipyard(service, "appspec", "production", "--format", "json",
                      "--task-definition", ARN)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"] == ARN
    assert result.err == ""


def test_json_flag_prints_a_result_object(service, shipyard) -> None:
    data = shipyard(service, "appspec", "production", "--json").json()
    assert data["environment"] == "production" and data["placeholder"] is True
    assert data["valid"] is True and data["problems"] == [] and data["output"] is None
    assert data["appspec"]["Hooks"][0] == {"BeforeInstall": "svc-before-install"}


def test_output_writes_the_file_and_nothing_else(service, shipyard, tmp_path: Path) -> None:
    target = tmp_path / "out" / "appspec.yml"
    result = shipyard(service, "appspec", "production", "--output", str(target))
    assert result.code == 0, result.err
    assert result.out == ""
    assert f"wrote {target} (yaml) for production" in result.err
    assert target.read_text() == shipyard(service, "appspec", "production").out
    assert sorted(p.name for p in target.parent.iterdir()) == ["appspec.yml"]  # no temp file
    again = shipyard(None, "appspec", "--check", str(target))
    assert again.code == 0 and again.out == f"{target}: a valid ECS AppSpec\n"


def test_output_ending_in_json_writes_json(service, shipyard, tmp_path: Path) -> None:
    target = tmp_path / "appspec.json"
    assert shipyard(service, "appspec", "production", "--output", str(target)).code == 0
    assert json.loads(target.read_text())["version"] == 0.0


def test_check_accepts_a_good_file(shipyard, tmp_path: Path) -> None:
    good = tmp_path / "appspec.yaml"
    good.write_text(VALID)
    result = shipyard(None, "appspec", "--check", str(good))
    assert result.code == 0, result.err
    assert result.out == f"{good}: a valid ECS AppSpec\n"


def test_check_lists_every_problem_and_exits_2(shipyard, tmp_path: Path) -> None:
    bad = tmp_path / "appspec.yml"
    bad.write_text(VALID.replace("ContainerPort: 8080", "ContainerPort: 70000")
                   .replace("- AfterAllowTestTraffic: svc-e2e",
                            "- ApplicationStart: svc-start\n  - ApplicationStop: svc-stop"))
    result = shipyard(None, "appspec", "--check", str(bad))
    assert result.code == 2
    lines = result.err.splitlines()
    assert lines[:3] == [
        f"{bad}: TargetService: LoadBalancerInfo.ContainerPort is a number that is not a port; "
        "a port is a whole number from 1 to 65535",
        f"{bad}: Hooks: 'ApplicationStart' is an EC2/on-premises hook, not an ECS one: ECS "
        "starts the containers itself; use AfterInstall, which runs once the replacement task "
        "set is up",
        f"{bad}: Hooks: 'ApplicationStop' is an EC2/on-premises hook, not an ECS one: ECS stops "
        "the original tasks itself; work that must precede the new version belongs in "
        "BeforeInstall",
    ]
    assert lines[3] == (f"error: {bad} is not a valid ECS AppSpec: 3 problems listed above; "
                        "fix them and check again")
    assert result.out == ""


def test_check_json_reports_problems_for_scripts(shipyard, tmp_path: Path) -> None:
    bad = tmp_path / "appspec.json"
    bad.write_text(json.dumps({**yaml.safe_load(VALID), "Hooks": {"BeforeInstall": "fn"}}))
    result = shipyard(None, "appspec", "--check", str(bad), "--json")
    assert result.code == 2
    assert result.json() == {"file": str(bad), "valid": False, "problems": [
        "Hooks is a mapping; the AppSpec lists hooks, one per entry: "
        "'- BeforeInstall: my-function'"]}


@pytest.mark.parametrize("content", [
    "DB_PASSWORD=hunter2-0a9f7c\nAPI_TOKEN=tok-0a9f7c55e1\n",  # an env file: one scalar
    "version: 0.0\nDB_PASSWORD=hunter2-0a9f7c\nAPI_TOKEN=tok-0a9f7c55e1\n",  # a YAML error
    "DB_PASSWORD=hunter2-0a9f7c: 1\nAPI_TOKEN=tok-0a9f7c55e1: 2\n",  # lines as keys
    '{"DB_PASSWORD=hunter2-0a9f7c": 1, "version": "tok-0a9f7c55e1"}',  # JSON
    "Resources:\n- A=hunter2-0a9f7c: tok-0a9f7c55e1\nHooks:\n- B=hunter2-0a9f7c: tok-0a9f7c55e1\n"
    "- [tok-0a9f7c55e1]\n",  # values, and keys that are not names, in the sections
], ids=["env-file", "yaml-error", "keys", "json", "sections"])
def test_check_never_prints_the_files_content(shipyard, tmp_path: Path, content: str) -> None:
    # `--check` pointed at a credentials file in CI must not copy it into the job log
    credentials = tmp_path / "credentials.env"
    credentials.write_text(content)
    result = shipyard(None, "appspec", "--check", str(credentials))
    assert result.code == 2 and result.out == ""
    for secret in ("hunter2", "0a9f7c"):
        assert secret not in result.err, result.err
    if "keys" in content or ": 1" in content:
        assert "line 1: unknown top-level key (not a name, so not shown)" in result.err


def test_check_of_a_deeply_nested_file(shipyard, tmp_path: Path) -> None:
    deep = tmp_path / "appspec.yml"
    deep.write_text("version: 0.0\nResources: " + "[" * 50_000 + "]" * 50_000 + "\n")
    result = shipyard(None, "appspec", "--check", str(deep))
    assert result.code == 2 and "unexpected" not in result.err
    assert result.err.splitlines() == [
        f"{deep}: nested too deeply for an AppSpec (lists or mappings inside each other "
        "hundreds of levels down); an AppSpec is a few levels deep, check that this is the "
        "file", f"error: {deep} is not a valid ECS AppSpec: 1 problem listed above; fix them "
        "and check again"]


def test_check_of_a_fifo_or_binary_file(shipyard, tmp_path: Path) -> None:
    fifo = tmp_path / "appspec.yml"
    os.mkfifo(fifo)  # reading it would wait forever for a writer
    result = shipyard(None, "appspec", "--check", str(fifo))
    assert (result.code, result.err) == (2, f"error: {fifo} is not a regular file (a FIFO, "
                                            "socket or device); pass a YAML or JSON AppSpec "
                                            "file to --check\n")
    binary = tmp_path / "appspec.bin"
    binary.write_bytes(b"version: 0.0\n\x00\x01\x02\xff")
    result = shipyard(None, "appspec", "--check", str(binary))
    assert (result.code, result.err) == (2, f"error: {binary} is not a text file (binary "
                                            "content); pass a YAML or JSON AppSpec file to "
                                            "--check\n")


def test_check_of_a_missing_file(shipyard, tmp_path: Path) -> None:
    result = shipyard(None, "appspec", "--check", str(tmp_path / "nope.yml"))
    assert result.code == 2
    assert "nope.yml does not exist; pass the AppSpec file to --check" in result.err


def test_bad_config_hook_fails_before_anything_is_written(
        service, shipyard, tmp_path: Path) -> None:
    service.commit("ec2 hook", shipyard__toml=CONFIG + 'ApplicationStart = "svc-start"\n')
    fresh = tmp_path / "fresh.yml"
    result = shipyard(service, "appspec", "production", "--output", str(fresh))
    assert result.code == 3
    config = service.project / "shipyard.toml"
    assert result.err.splitlines() == [
        f"{config}: [environments.production]: Hooks: 'ApplicationStart' is an EC2/on-premises "
        "hook, not an ECS one: ECS starts the containers itself; use AfterInstall, which runs "
        "once the replacement task set is up",
        f"error: the AppSpec for production is invalid: 1 problem listed above; fix "
        f"[environments.production] in {config}",
    ]
    assert not fresh.exists()
    assert list(tmp_path.iterdir()) == [service.root]  # no temporary file left behind either
    existing = tmp_path / "existing.yml"
    existing.write_text("old\n")
    before = existing.stat().st_mtime_ns
    assert shipyard(service, "appspec", "production", "--output", str(existing)).code == 3
    assert existing.read_text() == "old\n" and existing.stat().st_mtime_ns == before


def test_bad_task_definition_flag_writes_nothing(service, shipyard, tmp_path: Path) -> None:
    target = tmp_path / "appspec.yml"
    result = shipyard(service, "appspec", "production", "--task-definition", "svc:3",
                      "--output", str(target))
    assert result.code == 2
    assert "--task-definition: TaskDefinition (text) is not a task-definition ARN" in result.err
    assert not target.exists()


def test_unwritable_output_is_a_usage_error(service, shipyard, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = shipyard(service, "appspec", "production", "--output", str(blocker / "a.yml"))
    assert result.code == 2
    assert f"--output {blocker / 'a.yml'} cannot be written" in result.err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        # a rolling environment has no AppSpec
        (["staging"], 2, "error: staging deploys with rolling updates; AppSpecs are for "
                         "blue_green environments"),
        # an environment that is not configured
        (["qa"], 3, "environment 'qa' is not in"),
        # --check takes a file only
        (["production", "--check", "x.yml"], 2,
         "--check reads a file and does not take an environment"),
        # neither an environment nor --check
        ([], 2, "name the environment to generate for"),
        # a format CodeDeploy does not read
        (["production", "--format", "toml"], 2, "Invalid value for '--format'"),
    ],
)
def test_refusals(service, shipyard, args: list[str], code: int, message: str) -> None:
    result = shipyard(service, "appspec", *args)
    assert result.code == code
    assert message in result.err
    assert result.out == ""


def test_gamepulse_committed_appspec_is_what_the_command_generates(shipyard) -> None:
    """GamePulse/deploy/appspec.yml can never drift from [environments.production]."""
    result = shipyard(None, "-C", str(GAMEPULSE), "appspec", "production")
    assert result.code == 0, result.err
    assert result.out == (GAMEPULSE / "deploy" / "appspec.yml").read_text()
    check = shipyard(None, "appspec", "--check", str(GAMEPULSE / "deploy" / "appspec.yml"))
    assert check.code == 0, check.err
