"""`shipyard init` through the real CLI: a new service's files, and that they work with
`version`, `render`, `appspec --check` and `verify` (on the sandbox); bad input changes
nothing; prompts on a terminal only."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "0123456789abcdef" * 4
ACCOUNT = {"AWS_ACCOUNT_ID": "123456789012"}  # so that render never asks STS
SCAFFOLD = ["shipyard.toml", "deploy/ecs-task-definition-staging.json",
            "deploy/ecs-task-definition-production.json", "deploy/appspec.yml"]


def test_a_new_service_renders_and_its_appspec_checks(repo, shipyard) -> None:
    result = shipyard(repo, "init", "--name", "orders", "--json")
    assert result.code == 0, result.err
    assert result.json()["written"] == SCAFFOLD
    assert result.json()["kept"] == ["version.txt"]  # the repo's valid 1.0.0 stays
    assert (repo.project / "version.txt").read_text() == "1.0.0\n"
    for environment in ("staging", "production"):
        image = f"127.0.0.1:5000/orders@{DIGEST}"
        rendered = shipyard(repo, "render", environment, "--image", image, env=ACCOUNT)
        assert rendered.code == 0, rendered.err  # render checks it against ECS's model
        definition = json.loads(rendered.out)
        assert definition["family"] == f"orders-{environment}"
        assert definition["containerDefinitions"][0]["image"] == image
        assert definition["executionRoleArn"] == \
            f"arn:aws:iam::123456789012:role/orders-{environment}-execution"
    checked = shipyard(None, "appspec", "--check", "deploy/appspec.yml", cwd=repo.project)
    assert checked.code == 0, checked.err
    # The file is exactly what `shipyard appspec production` makes, so it never drifts.
    regenerated = shipyard(repo, "appspec", "production")
    assert regenerated.out == (repo.project / "deploy/appspec.yml").read_text()


def test_version_works_once_the_files_are_committed(repo, shipyard) -> None:
    (repo.project / "version.txt").unlink()
    assert shipyard(repo, "init").code == 0
    assert (repo.project / "version.txt").read_text() == "0.1.0\n"
    repo.commit("shipyard init")
    result = shipyard(repo, "version", "--json")
    assert result.code == 0, result.err
    assert (result.json()["previous"], result.json()["version"]) == ("0.1.0", "0.2.0")


def test_the_name_defaults_to_the_folder_made_a_valid_ecr_name(repo, shipyard) -> None:
    folder = repo.root / "Game Pulse_API"
    folder.mkdir()
    result = shipyard(None, "-C", str(folder), "init", "--json")
    assert result.code == 0, result.err
    service = result.json()["service"]
    assert (service["name"], service["repository"], service["cluster"]) == (
        "game-pulse-api", "game-pulse-api", "game-pulse-api")
    config = tomllib.loads((folder / "shipyard.toml").read_text())
    assert config["service"]["repository"] == "game-pulse-api"


def test_flags_reach_the_files(repo, shipyard) -> None:
    result = shipyard(repo, "init", "--name", "pay", "--region", "us-east-1", "--repository",
                      "team/pay", "--cluster", "shared", "--port", "9000",
                      "--cpu-architecture", "arm64", "--environment", "dev", "--environment",
                      "prod", "--blue-green", "prod", "--health-path", "/ready", "--json")
    assert result.code == 0, result.err
    assert result.json()["written"] == ["shipyard.toml", "deploy/ecs-task-definition-dev.json",
                                        "deploy/ecs-task-definition-prod.json",
                                        "deploy/appspec.yml"]
    config = tomllib.loads((repo.project / "shipyard.toml").read_text())
    assert config["service"] == {"name": "pay", "region": "us-east-1", "repository": "team/pay"}
    assert config["build"]["platforms"] == ["linux/arm64"]
    dev, prod = config["environments"]["dev"], config["environments"]["prod"]
    assert (dev["deployment"], prod["deployment"]) == ("rolling", "blue_green")
    assert (prod["cluster"], prod["container_port"]) == ("shared", 9000)
    assert prod["values"]["cpu_architecture"] == "ARM64"
    template = (repo.project / "deploy/ecs-task-definition-dev.json").read_text()
    assert "http://127.0.0.1:9000/ready" in template


def test_no_blue_green_writes_no_appspec(repo, shipyard) -> None:
    result = shipyard(repo, "init", "--no-blue-green", "--json")
    assert result.code == 0, result.err
    assert "deploy/appspec.yml" not in result.json()["written"]
    assert not (repo.project / "deploy/appspec.yml").exists()


def test_json_describes_what_was_written(repo, shipyard) -> None:
    result = shipyard(repo, "init", "--name", "orders", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["project_dir"] == str(repo.project.resolve())
    assert data["dry_run"] is False
    assert (data["overwritten"], data["version"]) == ([], "1.0.0")
    assert data["service"] == {
        "name": "orders", "region": "ap-northeast-2", "repository": "orders",
        "cluster": "orders", "port": 8080, "cpu_architecture": "X86_64",
        "health_path": "/health", "environments": ["staging", "production"],
        "blue_green": ["production"]}
    assert "no Dockerfile" in data["notes"][0]
    assert "contents" not in data
    assert result.err == ""


def test_plain_output_lists_the_files_and_notes_a_missing_dockerfile(repo, shipyard) -> None:
    result = shipyard(repo, "init")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [*(f"wrote {path}" for path in SCAFFOLD),
                                       "kept version.txt (1.0.0)"]
    assert "no Dockerfile" in result.err
    repo.write("Dockerfile", "FROM scratch\n")
    again = shipyard(repo, "init", "--force")
    assert "no Dockerfile" not in again.err
    assert not (repo.project / ".dockerignore").exists()


def test_dry_run_prints_the_files_and_writes_nothing(repo, shipyard) -> None:
    before = repo.state()
    result = shipyard(repo, "init", "--dry-run")
    assert result.code == 0, result.err
    assert repo.state() == before
    assert "--- shipyard.toml (would write)" in result.out
    assert 'name = "svc"' in result.out
    assert "dry run: nothing was written" in result.err
    as_json = shipyard(repo, "init", "--dry-run", "--json")
    assert repo.state() == before
    data = as_json.json()
    assert data["dry_run"] is True
    assert list(data["contents"]) == SCAFFOLD
    assert data["contents"]["deploy/appspec.yml"].endswith("PlatformVersion: LATEST\n")


@pytest.mark.parametrize("existing", ["shipyard.toml", "deploy/appspec.yml"])
def test_existing_files_are_refused_and_nothing_is_written(repo, shipyard, existing) -> None:
    repo.commit("mine", **{existing.replace(".", "__"): "# ours\n"})
    before = repo.state()
    result = shipyard(repo, "init")
    assert result.code == 6
    assert result.err.count("\n") == 1
    assert existing in result.err and "--force" in result.err
    assert repo.state() == before  # not even the files that did not exist


def test_force_overwrites_and_says_so(repo, shipyard) -> None:
    repo.commit("mine", shipyard__toml="# ours\n")
    result = shipyard(repo, "init", "--force", "--json")
    assert result.code == 0, result.err
    assert result.json()["overwritten"] == ["shipyard.toml"]
    assert (repo.project / "shipyard.toml").read_text().startswith("# Shipyard configuration")
    assert not list(repo.project.rglob(".*.*"))  # no staged temporary file left behind


def test_an_invalid_version_file_is_replaced_only_with_force(repo, shipyard) -> None:
    repo.commit("broken", version__txt="banana\n")
    before = repo.state()
    result = shipyard(repo, "init")
    assert result.code == 6
    assert "version.txt" in result.err and "--force" in result.err
    assert repo.state() == before
    assert shipyard(repo, "init", "--force").code == 0
    assert (repo.project / "version.txt").read_text() == "0.1.0\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "My.App"], "--name 'My.App' is not a valid name"),
    (["--repository", "Team//App"], "--repository 'Team//App'"),
    (["--cluster", "a cluster"], "--cluster 'a cluster'"),
    (["--region", "Seoul"], "--region 'Seoul'"),
    (["--cpu-architecture", "sparc"], "--cpu-architecture 'sparc'"),
    (["--port", "0"], "--port 0 is not a port"),
    (["--port", "65536"], "--port 65536 is not a port"),
    (["--port", "http"], "--port"),  # not a number at all: Typer's own usage error
    (["--health-path", "health"], "--health-path 'health'"),
    (["--environment", "Prod"], "--environment 'Prod'"),
    (["--environment", "qa", "--environment", "qa"], "given twice"),
    (["--blue-green", "canary"], "--blue-green canary is not an environment"),
    (["--environment", "dev", "--blue-green", "production"], "--blue-green production"),
    (["--blue-green", "production", "--no-blue-green"], "contradict"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(repo, shipyard, args, message) -> None:
    before = repo.state()
    result = shipyard(repo, "init", *args)
    assert result.code == 2
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert message in result.err
    assert repo.state() == before


def test_a_missing_folder_is_exit_3(repo, shipyard, tmp_path) -> None:
    result = shipyard(None, "-C", str(tmp_path / "nowhere"), "init")
    assert result.code == 3
    assert "does not exist" in result.err
    assert not (tmp_path / "nowhere").exists()


def test_a_file_where_the_deploy_folder_goes_is_a_conflict(repo, shipyard) -> None:
    repo.commit("odd", deploy="not a folder\n")
    before = repo.state()
    result = shipyard(repo, "init", "--force")
    assert result.code == 6
    assert "deploy is a file" in result.err
    assert repo.state() == before


def test_verify_on_the_sandbox_reports_what_is_missing(repo, shipyard, sandbox_env) -> None:
    name = f"i{uuid.uuid4().hex[:8]}"  # roles and cluster of its own in the shared sandbox
    assert shipyard(repo, "init", "--name", name).code == 0
    image = f"127.0.0.1:5000/{name}@{DIGEST}"
    result = shipyard(repo, "verify", "staging", "--image", image, "--json")
    assert result.code == 13, result.err
    report, _ = json.JSONDecoder().raw_decode(result.out)  # the report, before any error
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["definition"]["status"] == "ok"  # valid for ecs:RegisterTaskDefinition
    assert checks[f"log group /ecs/{name}-staging"]["status"] == "ok"  # awslogs-create-group
    for missing in (f"executionRoleArn {name}-staging-execution",
                    f"taskRoleArn {name}-staging-task", f"cluster {name}"):
        assert checks[missing]["status"] == "fail", checks


# --- questions on a terminal ---------------------------------------------------------------

class Terminal:
    """`shipyard init` in a real pseudo-terminal, answered prompt by prompt."""

    def __init__(self, folder: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.master, replica = pty.openpty()
        environment = {k: v for k, v in os.environ.items() if k != "CI"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shipyard", "-C", str(folder), "init", *args],
            stdin=replica, stdout=replica, stderr=replica, env={**environment, **(env or {})},
            close_fds=True)
        os.close(replica)
        self.output = ""
        self._seen = 0

    def expect(self, text: str, timeout: float = 30) -> None:
        """Read until `text` appears after what was already matched."""
        deadline = time.monotonic() + timeout
        while text not in self.output[self._seen:]:
            assert time.monotonic() < deadline, f"no {text!r} in {self.output!r}"
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the process ended and closed the terminal
                    assert text in self.output[self._seen:], self.output
        self._seen = self.output.index(text, self._seen) + len(text)

    def answer(self, prompt: str, value: str) -> None:
        self.expect(prompt)
        os.write(self.master, f"{value}\n".encode())

    def finish(self) -> int:
        self.expect("next:")  # the last line init prints
        code = self.process.wait(timeout=30)
        os.close(self.master)
        return code


def test_on_a_terminal_it_asks_for_what_the_flags_leave_out(repo) -> None:
    terminal = Terminal(repo.project, "--environment", "dev", "--environment", "prod")
    terminal.answer("Service name [svc]:", "Bad.Name")
    terminal.answer("is not a valid name", "orders")  # asked again after the error
    terminal.answer("AWS region [ap-northeast-2]:", "")
    terminal.answer("Container port [8080]:", "70000")
    terminal.answer("is not a port", "9090")
    terminal.answer("Health-check path [/health]:", "")
    terminal.answer("CPU architecture (X86_64 or ARM64) [X86_64]:", "arm64")
    terminal.answer("Blue/green environments (CodeDeploy), comma-separated, or none [none]:",
                    "prod")
    assert terminal.finish() == 0, terminal.output
    assert "Environments" not in terminal.output  # given as flags, so not asked
    config = tomllib.loads((repo.project / "shipyard.toml").read_text())
    assert config["service"]["name"] == "orders"
    prod = config["environments"]["prod"]
    assert (prod["container_port"], prod["deployment"]) == (9090, "blue_green")
    assert prod["values"]["cpu_architecture"] == "ARM64"


@pytest.mark.parametrize(("args", "env"), [
    (["--yes"], {}),
    (["--no-input"], {}),
    ([], {"CI": "true"}),  # CI never asks, even on a terminal
])
def test_on_a_terminal_it_asks_nothing_when_told_or_in_ci(repo, args, env) -> None:
    terminal = Terminal(repo.project, *args, env=env)
    assert terminal.finish() == 0, terminal.output
    assert "Service name" not in terminal.output
    assert 'name = "svc"' in (repo.project / "shipyard.toml").read_text()
