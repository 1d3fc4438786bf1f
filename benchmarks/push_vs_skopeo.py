"""Push the same OCI layout with `shipyard push --from-oci` and with `skopeo copy`, each to a
fresh sandbox registry, and print the times side by side with their ratio.

Both go through the same path (the sandbox's registry behind its ECR-rules proxy, with the
ECR token as basic auth), so the ratio compares the clients, not the servers.

    .venv/bin/python benchmarks/push_vs_skopeo.py [--layers 8] [--layer-mb 40] [--runs 3]

Measured: a fresh push of the whole layout (several layers, >= 256 MB), and a no-op re-push
(everything already there) of the whole process, start to exit.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shipyard_sandbox import control  # noqa: E402

SHIPYARD = [sys.executable, "-m", "shipyard"]


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


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh_sandbox(work: Path, name: str) -> tuple[Path, dict[str, str]]:
    state = work / name
    endpoints, _ = control.up(state, region="ap-northeast-2")
    env = {**os.environ, **endpoints.environment(), "AWS_ACCOUNT_ID": "123456789012",
           "ECR_REPOSITORY": "bench"}
    env.pop("GITHUB_ACTIONS", None)
    return state, env


def skopeo_command(env: dict[str, str], layout: Path) -> list[str]:
    ecr = boto3.client("ecr", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL"],
                       aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    if not ecr.describe_repositories()["repositories"]:
        ecr.create_repository(repositoryName="bench")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    creds = base64.b64decode(token).decode()
    return ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", creds,
            f"oci:{layout}", f"docker://{env['SHIPYARD_REGISTRY']}/bench:1.1.0"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--layer-mb", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cache = ROOT / "benchmarks" / ".cache" / f"layout-{args.layers}x{args.layer_mb}"
    size = make_layout(cache, args.layers, args.layer_mb)
    fresh = {"shipyard": [], "skopeo": []}
    noop = {"shipyard": [], "skopeo": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = git_project(work / "repo")
        push = [*SHIPYARD, "-C", str(project), "push", "--from-oci", str(cache)]
        for run in range(args.runs):
            # Alternate the order so neither tool always runs on a warmer machine.
            for tool in (("shipyard", "skopeo") if run % 2 == 0 else ("skopeo", "shipyard")):
                state, env = fresh_sandbox(work, f"{tool}-{run}")
                try:
                    command = push if tool == "shipyard" else skopeo_command(env, cache)
                    fresh[tool].append(timed(command, env))
                    noop[tool].append(timed(command, env))
                finally:
                    control.down(state)
                    shutil.rmtree(state, ignore_errors=True)
    print(f"layout: {args.layers} layers, {size / 1e6:.0f} MB; {args.runs} runs each, median")
    print(f"{'case':<22}{'shipyard':>10}{'skopeo':>10}{'ratio':>8}")
    for case, results in (("fresh push", fresh), ("no-op re-push", noop)):
        ours, theirs = statistics.median(results["shipyard"]), statistics.median(results["skopeo"])
        print(f"{case:<22}{ours:>9.2f}s{theirs:>9.2f}s{theirs / ours:>7.2f}x")
    print("ratio = skopeo time / shipyard time (above 1: shipyard is faster)")


if __name__ == "__main__":
    main()
