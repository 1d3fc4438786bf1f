"""`shipyard sandbox up|env|provision|down`, each with `--json`, on a sandbox of their own."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import typer

from shipyard.cli.sandbox import sandbox_app

pytestmark = pytest.mark.integration


def test_every_sandbox_command_has_json() -> None:
    group = typer.main.get_command(sandbox_app)
    commands = group.commands  # type: ignore[attr-defined]
    assert set(commands) >= {"up", "env", "down", "provision"}
    without = [name for name, command in commands.items()
               if not any("--json" in param.opts for param in command.params)]
    assert without == []


def test_up_env_provision_down_as_json(shipyard, tmp_path: Path) -> None:
    state = tmp_path / "sandbox"
    where = ["--state-dir", str(state)]
    try:
        up = shipyard(None, "sandbox", "up", *where, "--json")
        assert up.code == 0, up.err
        env = up.json()
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert up.err == ""  # --json: the note for people stays out of the way too
        again = shipyard(None, "sandbox", "env", *where, "--json")
        assert (again.code, again.json()) == (0, env)

        template = tmp_path / "topic.yaml"
        template.write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
                            "    Properties: {TopicName: t-sandbox-command}\n")
        provisioned = shipyard(None, "sandbox", "provision", str(template), *where, "--json")
        assert provisioned.code == 0, provisioned.err
        [topic] = provisioned.json()["resources"]
        assert (topic["logical_id"], topic["state"]) == ("Topic", "created")
        sns = boto3.client("sns", region_name=env["AWS_REGION"],
                           endpoint_url=env["AWS_ENDPOINT_URL"],
                           aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        assert sns.get_topic_attributes(TopicArn=topic["physical_id"])["Attributes"]
    finally:
        down = shipyard(None, "sandbox", "down", *where, "--json")
    assert down.code == 0, down.err
    assert json.loads(down.out) == {"stopped": True, "state_dir": str(state)}
    assert not (state / "sandbox.json").exists()
    twice = shipyard(None, "sandbox", "down", *where, "--json")
    assert (twice.code, twice.json()) == (0, {"stopped": False, "state_dir": str(state)})
    gone = shipyard(None, "sandbox", "env", *where, "--json")
    assert gone.code == 12 and gone.out == ""


def test_down_without_json_says_what_it_did(shipyard, tmp_path: Path) -> None:
    result = shipyard(None, "sandbox", "down", "--state-dir", str(tmp_path))
    assert result.code == 0
    assert result.out == ""
    assert result.err == f"no sandbox was running (state in {tmp_path})\n"
