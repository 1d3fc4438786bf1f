"""The deploy tests' world: GamePulse's infrastructure in miniature, one per test module.

`world` provisions `world.yaml` into the session sandbox under a name of its own (a cluster,
a rolling `<name>-staging` service and a CODE_DEPLOY `<name>-production` service, created
with no tasks, behind one load balancer whose listeners are production 80, test 8080 and
staging 8081; a CodeDeploy application and blue/green group), and a git project whose
shipyard.toml deploys there (`project/`). `world.push("1.1.0")` pushes a busybox web image
of that version with the real `shipyard push`; `world.run(shipyard, "deploy", "staging")`
runs a command in the project with the sandbox's environment, listener URLs included.

Modules do not share services, so tests of one module run in order on one world and each
module starts from nothing: a test that needs a deployed version deploys it first.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from shipyard_testing.web_images import web_image

HERE = Path(__file__).parent
WAIT = 60.0  # bounds a hang; every wait ends as soon as its condition holds


class Project:
    """A git repository whose folder `svc/` is the project (what the `shipyard` fixture's
    `-C` takes)."""

    def __init__(self, root: Path) -> None:
        self.root, self.project = root, root / "svc"
        root.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        for key, value in (("user.name", "Test"), ("user.email", "test@example.com"),
                           ("commit.gpgsign", "false"), ("tag.gpgsign", "false")):
            self.git("config", key, value)

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True,
                              text=True).stdout.strip()


class World:
    def __init__(self, name: str, sandbox: dict[str, str], sandbox_dir: Path,
                 repo: Any, images: Path) -> None:

        self.name, self.repo, self._images = name, repo, images
        # The sandbox writes its listeners' local URLs a moment after provisioning made them:
        # wait (bounded) for this world's three.
        wanted = {f"SHIPYARD_LISTENER_{name.upper().replace('-', '_')}_{port}"
                  for port in (80, 8080, 8081)}
        self.listeners = self.wait_for(f"the listeners of {name}",
                                       lambda: _listeners(sandbox_dir, wanted))
        self.env = {**sandbox, **self.listeners, "SHIPYARD_SANDBOX_DIR": str(sandbox_dir)}
        self.region = sandbox["AWS_REGION"]
        self.cluster = name
        self.pushed: dict[str, str] = {}

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region,
                            endpoint_url=self.env["AWS_ENDPOINT_URL"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def run(self, shipyard: Any, *args: str, env: dict[str, str] | None = None) -> Any:
        """`shipyard -C <project> ARGS` in-process with the sandbox's environment."""
        return shipyard(self.repo, *args, env={**self.env, **(env or {})})

    def push(self, shipyard: Any, version: str, kind: str = "good") -> str:
        """Push the web image of `version` ("good", "exits" or "unhealthy") tagged
        `version`; its digest-pinned reference."""
        key = f"{version}-{kind}"
        if key not in self.pushed:
            # a commit of its own: push tags the commit too (sha-...), and one commit is one
            # image
            self.repo.git("commit", "-q", "--allow-empty", "-m", key)
            layout = web_image(self._images / key, version, kind)
            pushed = self.run(shipyard, "push", "--from-oci", str(layout), "--version",
                              version, "--json")
            assert pushed.code == 0, pushed.err
            result = pushed.json()
            self.pushed[key] = f"{result['registry']}/{result['repository']}@{result['digest']}"
        return self.pushed[key]

    def url(self, port: int) -> str:
        return self.listeners[f"SHIPYARD_LISTENER_{self.name.upper().replace('-', '_')}_{port}"]

    def served_version(self, port: int) -> str | None:
        """The version the listener on `port` serves now, or None when it does not answer."""
        try:
            answer = httpx.get(f"{self.url(port)}/version", timeout=2.0)
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        return str(answer.json().get("version"))

    def service(self, environment: str) -> dict[str, Any]:
        described = self.client("ecs").describe_services(
            cluster=self.cluster, services=[f"{self.name}-{environment}"])
        return dict(described["services"][0])

    def running_image(self, environment: str) -> str:
        """The image of the task definition the service of `environment` runs."""
        arn = self.service(environment)["taskDefinition"]
        definition = self.client("ecs").describe_task_definition(taskDefinition=arn)
        return str(definition["taskDefinition"]["containerDefinitions"][0]["image"])

    def task_definitions(self, environment: str) -> list[str]:
        """The family's registered revisions, oldest first."""
        return list(self.client("ecs").list_task_definitions(
            familyPrefix=f"{self.name}-{environment}", sort="ASC")["taskDefinitionArns"])

    def wait_for(self, what: str, probe: Any, timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def _listeners(sandbox_dir: Path, wanted: set[str]) -> dict[str, str] | None:
    """The sandbox's listener URLs once every one of `wanted` is among them."""
    from shipyard_sandbox import control

    found = control.listener_environment(sandbox_dir)
    return found if wanted <= set(found) else None


@pytest.fixture(scope="module")
def world(sandbox: dict[str, str], sandbox_dir: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from shipyard_sandbox import control

    name = f"w{uuid.uuid4().hex[:6]}"
    control.provision(sandbox_dir, HERE / "world.yaml", {"Name": name}, stack_name=name)
    root = tmp_path_factory.mktemp(name)
    repo = Project(root / "repo")
    shutil.copytree(HERE / "project", repo.project)
    listener = f"SHIPYARD_LISTENER_{name.upper()}"
    config = (repo.project / "shipyard.toml").read_text()
    (repo.project / "shipyard.toml").write_text(
        config.replace("@NAME@", name).replace("@LISTENER@", listener))
    (repo.project / "version.txt").write_text("1.0.0\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "the world's project")
    made = World(name, sandbox, sandbox_dir, repo, root / "images")
    yield made
    ecs = made.client("ecs")
    for service in (f"{name}-staging", f"{name}-production"):  # stop its tasks
        with contextlib.suppress(ecs.exceptions.ClientError):
            ecs.delete_service(cluster=name, service=service, force=True)


def dumped(document: Any) -> str:
    return json.dumps(document, indent=2, default=str)
