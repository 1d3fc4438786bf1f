"""The offline base image (scripts/build-base-image.sh) and the Dockerfile built on it.

Slow (about 10 s for the base image here, plus a few seconds per buildah build): they run
mmdebstrap against the machine's Debian mirror and buildah with vfs storage in a private
storage root. Skipped when not root or when the tools are missing.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parents[1]
GAMEPULSE_DIR = APP_DIR.parent
SCRIPT = GAMEPULSE_DIR / "scripts" / "build-base-image.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="build-base-image.sh needs root"),
]


def _blob(layout: Path, digest: str) -> Path:
    algorithm, hexdigest = digest.split(":")
    return layout / "blobs" / algorithm / hexdigest


def _json_blob(layout: Path, digest: str) -> dict:
    return json.loads(_blob(layout, digest).read_bytes())


def _index(layout: Path) -> dict:
    """The image index that index.json names (the multi-platform image)."""
    top = json.loads((layout / "index.json").read_text())
    return _json_blob(layout, top["manifests"][0]["digest"])


@pytest.fixture(scope="module")
def base_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Lower-case path on purpose: buildah 1.28 names an oci: image after its path.
    out = tmp_path_factory.mktemp("base") / "base-oci"
    started = time.monotonic()
    result = subprocess.run(
        [str(SCRIPT), str(out)], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert time.monotonic() - started < 120, "the base image must build in under 2 minutes"
    return out


def test_layout_is_one_index_with_amd64_and_arm64(base_layout: Path) -> None:
    assert json.loads((base_layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    top = json.loads((base_layout / "index.json").read_text())
    assert len(top["manifests"]) == 1
    entry = top["manifests"][0]
    assert entry["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    index = _json_blob(base_layout, entry["digest"])
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]}
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}

    for item in index["manifests"]:
        arch = item["platform"]["architecture"]
        assert _blob(base_layout, item["digest"]).stat().st_size == item["size"]
        manifest = _json_blob(base_layout, item["digest"])
        config = _json_blob(base_layout, manifest["config"]["digest"])
        assert (config["os"], config["architecture"]) == ("linux", arch)
        assert any(e.startswith("PATH=") for e in config["config"]["Env"])
        (layer,) = manifest["layers"]
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        path = _blob(base_layout, layer["digest"])
        assert path.stat().st_size == layer["size"]
        with gzip.open(path) as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            members = {}
            passwd = None
            for member in tar:
                members[member.name] = member
                if member.name == "etc/passwd":
                    passwd = tar.extractfile(member).read().decode()
        python3 = members["usr/bin/python3"]
        assert python3.issym() and python3.linkname == "python3.11"
        assert members["usr/bin/python3.11"].isfile()
        assert "usr/lib/python3.11/http/server.py" in members
        assert "usr/lib/python3.11/json/__init__.py" in members
        assert "usr/lib/python3.11/email/utils.py" in members
        assert "app:x:10001:10001:" in passwd
        home = members["home/app"]
        assert (home.uid, home.gid) == (10001, 10001)
        assert "var/lib/dpkg/status" in members  # image scanners read the package list
        assert "etc/os-release" in members
        assert not any(
            name.startswith(("usr/share/man/", "var/lib/apt/lists/")) for name in members
        )
        assert not any(name.startswith("dev/") for name in members)
        assert layer["size"] < 25 * 1024 * 1024, "base layer should stay small"


def test_rebuild_gives_the_same_digests(base_layout: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    result = subprocess.run(
        [str(SCRIPT), "--arch", "amd64", str(again)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    amd64 = [
        m for m in _index(base_layout)["manifests"] if m["platform"]["architecture"] == "amd64"
    ]
    assert [m["digest"] for m in _index(again)["manifests"]] == [amd64[0]["digest"]]


# -- the GamePulse Dockerfile on top of it, with buildah ---------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture(scope="module")
def buildah(tmp_path_factory: pytest.TempPathFactory):
    storage = tmp_path_factory.mktemp("storage")
    base = [
        "buildah",
        "--storage-driver",
        "vfs",
        "--root",
        str(storage / "root"),
        "--runroot",
        str(storage / "run"),
    ]

    def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("timeout", 180)
        result = subprocess.run(
            [*base, *args], capture_output=True, text=True, check=False, **kwargs
        )
        assert result.returncode == 0, f"buildah {' '.join(args)}\n{result.stderr}"
        return result

    run.base = base
    yield run
    subprocess.run([*base, "rm", "--all"], capture_output=True, check=False)
    subprocess.run([*base, "rmi", "--all", "--force"], capture_output=True, check=False)


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_dockerfile_builds_without_emulation(base_layout: Path, buildah, platform: str) -> None:
    tag = f"localhost/gamepulse-test:{platform.split('/')[1]}"
    buildah(
        "build",
        "--isolation",
        "chroot",
        "--format",
        "docker",
        "--platform",
        platform,
        "--build-arg",
        f"BASE_IMAGE=oci:{base_layout}:latest",
        "--build-arg",
        "VERSION=9.9.9",
        "--build-arg",
        "REVISION=0123abc",
        "-t",
        tag,
        str(GAMEPULSE_DIR),
    )
    info = json.loads(buildah("inspect", "--type", "image", tag).stdout)
    assert info["OCIv1"]["architecture"] == platform.split("/")[1]
    config = info["Docker"]["config"]
    assert config["User"] == "10001:10001"
    assert config["Cmd"] == ["python3", "-m", "gamepulse"]
    assert config["Healthcheck"]["Test"][:2] == ["CMD", "python3"]
    assert "8080/tcp" in config["ExposedPorts"]
    assert "GAMEPULSE_VERSION=9.9.9" in config["Env"]
    assert "GAMEPULSE_REVISION=0123abc" in config["Env"]


def test_amd64_container_serves_health(base_layout: Path, buildah) -> None:
    if os.uname().machine not in ("x86_64", "amd64"):
        pytest.skip("runs the amd64 image natively only")
    tag = "localhost/gamepulse-test:run"
    buildah(
        "build",
        "--isolation",
        "chroot",
        "--platform",
        "linux/amd64",
        "--build-arg",
        f"BASE_IMAGE=oci:{base_layout}:latest",
        "-t",
        tag,
        str(GAMEPULSE_DIR),
    )
    container = buildah("from", tag).stdout.strip()
    port = _free_port()
    run = [*buildah.base, "run", "--isolation", "chroot", "--env", f"PORT={port}", container]
    proc = subprocess.Popen(
        [*run, "--", "python3", "-m", "gamepulse"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                resp = conn.getresponse()
                health = (resp.status, json.loads(resp.read()))
                conn.close()
                break
            except OSError:
                time.sleep(0.1)
        assert health is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        status, body = health
        assert status == 200
        assert body["status"] == "ok"
        # /app/VERSION is version.txt when no VERSION build arg is given.
        assert body["version"] == (GAMEPULSE_DIR / "version.txt").read_text().strip()
        # buildah run does not forward SIGTERM (it kills the child): signal the app itself.
        pythons = [
            pid
            for pid in _descendants(proc.pid)
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:3]
            == [b"/usr/bin/python3", b"-m", b"gamepulse"]
        ]
        assert len(pythons) == 1
        assert os.stat(f"/proc/{pythons[0]}").st_uid == 10001  # USER from the Dockerfile
        os.kill(pythons[0], signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        messages = [
            json.loads(line)["message"] for line in out.splitlines() if line.startswith("{")
        ]
        assert messages[0] == "listening"
        assert messages[-1] == "stopped"
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        subprocess.run([*buildah.base, "rm", container], capture_output=True, check=False)
