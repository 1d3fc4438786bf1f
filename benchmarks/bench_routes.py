"""The ways to get an OCI layout into ECR that the benchmark times, each as whole processes.

* `shipyard push --from-oci`: plans its tags from git, asks ECR for the repository (creating
  it) and a login, pushes, and sets five tags.
* bare `skopeo copy`: the upload alone. Its repository and credentials are fetched before the
  clock starts, so it makes no AWS call; it sets one tag.
* the route users script today: `aws ecr create-repository`, `aws ecr get-login-password |
  skopeo login`, `skopeo copy`, in one bash script; one tag.

Each route gets a fresh sandbox of its own (its state folder under the run's /tmp folder),
warmed before timing, and stopped afterwards whatever happens.
"""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
from bench_cache import PYCACHE, ROOT

from shipyard_sandbox import control

SHIPYARD = [sys.executable, "-m", "shipyard"]
REPOSITORY = "bench"
ACCOUNT = "123456789012"  # the sandbox's account; set, as the brief's AWS_ACCOUNT_ID is
COMMAND_TIMEOUT = 300.0


def python_env() -> dict[str, str]:
    """This environment for this checkout's shipyard, with byte-code cached in the cache."""
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    for name in ("PYTHONDONTWRITEBYTECODE", "GITHUB_ACTIONS", "GITHUB_OUTPUT",
                 "GITHUB_STEP_SUMMARY", "AWS_PROFILE"):
        env.pop(name, None)
    return env


def tool_env() -> dict[str, str]:
    """The environment for other tools (the AWS CLI has its own byte-code, in its venv)."""
    env = python_env()
    for name in ("PYTHONPATH", "PYTHONPYCACHEPREFIX"):
        env.pop(name)
    return env


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    """Wall time of one process, output discarded; a failure stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=COMMAND_TIMEOUT, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)[:200]} exited {done.returncode}: "
                           f"{done.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def git_project(path: Path) -> Path:
    """A one-commit repository with a GamePulse-like project, for the tag plan."""
    project = path / "svc"
    project.mkdir(parents=True)
    (project / "version.txt").write_text("1.0.0\n")
    commit(path)
    return project


def commit(path: Path) -> None:
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=path, check=True, timeout=60)


@contextmanager
def sandbox(state: Path) -> Iterator[dict[str, str]]:
    """A fresh sandbox in `state`, warmed, as the environment a client exports; stopped after.

    moto builds its ECR backend on the first ECR request (a sandbox cost, not a client's), so
    one read is made before any tool is timed.
    """
    endpoints, _ = control.up(state, region="ap-northeast-2")
    try:
        env = {**endpoints.environment(), "AWS_ACCOUNT_ID": ACCOUNT,
               "ECR_REPOSITORY": REPOSITORY}
        ecr_client(env).describe_repositories()
        yield env
    finally:
        control.down(state)
        shutil.rmtree(state, ignore_errors=True)


def ecr_client(env: dict[str, str]):
    return boto3.client("ecr", region_name=env["AWS_REGION"],
                        endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def shipyard_push(project: Path, layout: Path) -> list[str]:
    return [*SHIPYARD, "-C", str(project), "push", "--from-oci", str(layout)]


def bare_skopeo(sandbox_env: dict[str, str], layout: Path) -> list[str]:
    """`skopeo copy` with the credentials already in hand (got here, before any timing)."""
    ecr = ecr_client(sandbox_env)
    if not ecr.describe_repositories()["repositories"]:
        ecr.create_repository(repositoryName=REPOSITORY)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    creds = base64.b64decode(token).decode()
    return ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", creds,
            f"oci:{layout}", f"docker://{sandbox_env['SHIPYARD_REGISTRY']}/{REPOSITORY}:1.1.0"]


def aws_and_skopeo(aws: list[str], sandbox_env: dict[str, str], layout: Path,
                   authfile: Path) -> list[str]:
    """The script users write today, as one bash process (its own skopeo auth file)."""
    registry = sandbox_env["SHIPYARD_REGISTRY"]
    aws_cmd = shlex.join(aws)
    script = "\n".join([
        "set -euo pipefail",
        f"{aws_cmd} ecr create-repository --repository-name {REPOSITORY} >/dev/null",
        f"{aws_cmd} ecr get-login-password | skopeo login --tls-verify=false "
        f"--authfile {shlex.quote(str(authfile))} --username AWS --password-stdin {registry}",
        f"skopeo copy --quiet --dest-tls-verify=false --authfile {shlex.quote(str(authfile))} "
        f"{shlex.quote('oci:' + str(layout))} docker://{registry}/{REPOSITORY}:1.1.0",
    ])
    return ["bash", "-c", script]


def tool_version(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 \
        else f"{command[0]}: exit {done.returncode}"
