"""Push the same OCI layout with shipyard and with `skopeo copy`; print the times with ratios.

Two comparisons, each tool against a fresh, empty registry of its own in every run:

* client: `RegistryClient.push_layout` in this process vs `skopeo copy`, both straight to a
  plain loopback `docker-registry` (no auth, no proxy): the two registry clients alone.
* CLI: the whole `shipyard push --from-oci` process vs `skopeo copy`, both through a fresh
  sandbox (the registry behind its ECR-rules proxy, the ECR token as basic auth). shipyard's
  push also plans its tags from git, asks (moto's) ECR for the repository and a login, and sets
  five tags; skopeo sets one.

Each has a fresh push of the whole layout (several layers, >= 256 MB) and a no-op re-push
(everything already there). The last row is the CLI's start-up alone (`import shipyard.cli` in
a fresh interpreter), which is part of both of its times. Python runs with its byte-code
cached (under benchmarks/.cache), as an installed package has it.

    .venv/bin/python benchmarks/push_vs_skopeo.py [--layers 8] [--layer-mb 40] [--runs 3]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shipyard.adapters.oci_layout import OciLayout  # noqa: E402
from shipyard.adapters.registry import RegistryClient  # noqa: E402
from shipyard_sandbox import control  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
SHIPYARD = [sys.executable, "-m", "shipyard"]
REGISTRY_BINARY = "/usr/bin/docker-registry"
Times = dict[str, list[float]]


def make_layout(path: Path, layers: int, layer_mb: int) -> int:
    """An OCI layout of incompressible gzip layers; returns its total size in bytes."""
    if (path / "index.json").exists():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    descriptors, diff_ids = [], []
    for _ in range(layers):
        raw = os.urandom(layer_mb * 1024 * 1024)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            **put(gzip.compress(raw, compresslevel=1, mtime=0))})
    config = {"architecture": "amd64", "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **put(json.dumps(config).encode())},
                "layers": descriptors}
    top = {"mediaType": manifest["mediaType"], **put(json.dumps(manifest).encode())}
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def git_project(path: Path) -> Path:
    """A one-commit repository with a GamePulse-like project, for the tag plan."""
    project = path / "svc"
    project.mkdir(parents=True)
    (project / "version.txt").write_text("1.0.0\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    return project


def python_env() -> dict[str, str]:
    """This environment for this checkout's shipyard, with byte-code cached where we say."""
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "PYTHONPYCACHEPREFIX": str(CACHE / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("GITHUB_ACTIONS", None)
    return env


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


# --- the client against a plain registry ---------------------------------------------------


class PlainRegistry:
    """An empty `docker-registry` on a free loopback port, without auth; a context manager."""

    def __init__(self, root: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.host = f"127.0.0.1:{sock.getsockname()[1]}"
        root.mkdir(parents=True)
        self.config = root / "config.yml"
        self.config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n"
            f"http:\n  addr: {self.host}\n")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PlainRegistry:
        self.process = subprocess.Popen([REGISTRY_BINARY, "serve", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start on {self.host}")

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


def client_push(host: str, layout: Path) -> float:
    """A whole `push_layout` in this process: open the layout, connect, push, close."""
    start = time.perf_counter()
    with RegistryClient(host) as client:
        client.push_layout(OciLayout.open(layout), "bench", ["1.1.0"])
    return time.perf_counter() - start


def skopeo_plain(host: str, layout: Path) -> list[str]:
    return ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}",
            f"docker://{host}/bench:1.1.0"]


def run_client(work: Path, layout: Path, runs: int, fresh: Times, noop: Times) -> None:
    RegistryClient("127.0.0.1:1").close()  # httpx's lazy imports, as a warm process has them
    env = python_env()
    for run in range(runs):
        for tool in ("shipyard", "skopeo") if run % 2 == 0 else ("skopeo", "shipyard"):
            with PlainRegistry(work / f"plain-{tool}-{run}") as registry:
                for times in (fresh, noop):
                    times[tool].append(client_push(registry.host, layout) if tool == "shipyard"
                                       else timed(skopeo_plain(registry.host, layout), env))


# --- the CLI through the sandbox -------------------------------------------------------------


def fresh_sandbox(work: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A new sandbox, warmed: moto builds its ECR backend on the first ECR request (a sandbox
    cost, not a client's), so one read is made before either tool is timed."""
    state = work / name
    endpoints, _ = control.up(state, region="ap-northeast-2")
    env = {**python_env(), **endpoints.environment(), "AWS_ACCOUNT_ID": "123456789012",
           "ECR_REPOSITORY": "bench"}
    boto3.client("ecr", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL"],
                 aws_access_key_id="sandbox", aws_secret_access_key="sandbox"
                 ).describe_repositories()
    return state, env


def skopeo_sandbox(env: dict[str, str], layout: Path) -> list[str]:
    ecr = boto3.client("ecr", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL"],
                       aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    if not ecr.describe_repositories()["repositories"]:
        ecr.create_repository(repositoryName="bench")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    creds = base64.b64decode(token).decode()
    return ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", creds,
            f"oci:{layout}", f"docker://{env['SHIPYARD_REGISTRY']}/bench:1.1.0"]


def run_cli(work: Path, layout: Path, runs: int, fresh: Times, noop: Times) -> None:
    project = git_project(work / "repo")
    push = [*SHIPYARD, "-C", str(project), "push", "--from-oci", str(layout)]
    for run in range(runs):
        # Alternate the order so neither tool always runs on a warmer machine.
        for tool in ("shipyard", "skopeo") if run % 2 == 0 else ("skopeo", "shipyard"):
            state, env = fresh_sandbox(work, f"{tool}-{run}")
            try:
                command = push if tool == "shipyard" else skopeo_sandbox(env, layout)
                fresh[tool].append(timed(command, env))
                noop[tool].append(timed(command, env))
            finally:
                control.down(state)
                shutil.rmtree(state, ignore_errors=True)


def start_up(runs: int) -> list[float]:
    command = [sys.executable, "-c", "import shipyard.cli"]
    env = python_env()
    timed(command, env)  # writes the byte-code cache
    return [timed(command, env) for _ in range(max(runs, 3))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--layer-mb", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    layout = CACHE / f"layout-{args.layers}x{args.layer_mb}"
    size = make_layout(layout, args.layers, args.layer_mb)
    startup = start_up(args.runs)
    rows: list[tuple[str, Times]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, run in (("client -> registry", run_client), ("CLI -> sandbox", run_cli)):
            fresh: Times = {"shipyard": [], "skopeo": []}
            noop: Times = {"shipyard": [], "skopeo": []}
            run(work, layout, args.runs, fresh, noop)
            rows += [(f"{label}, fresh", fresh), (f"{label}, no-op", noop)]
    print(f"layout: {args.layers} layers, {size / 1e6:.0f} MB; {args.runs} runs each, median")
    print(f"{'case':<30}{'shipyard':>10}{'skopeo':>10}{'ratio':>8}")
    for case, results in rows:
        ours, theirs = statistics.median(results["shipyard"]), statistics.median(results["skopeo"])
        print(f"{case:<30}{_seconds(ours):>10}{_seconds(theirs):>10}{theirs / ours:>7.2f}x")
    print(f"{'CLI start-up (imports)':<30}{_seconds(statistics.median(startup)):>10}")
    print("ratio = skopeo time / shipyard time (above 1: shipyard is faster)")


def _seconds(value: float) -> str:
    return f"{value:.2f}s" if value >= 0.1 else f"{value * 1000:.0f}ms"


if __name__ == "__main__":
    main()
