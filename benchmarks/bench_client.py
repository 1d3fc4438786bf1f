"""The two registry clients alone: `RegistryClient.push_layout` in this process against
`skopeo copy`, both straight to a plain loopback `docker-registry` (no auth, no proxy)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from bench_routes import python_env, timed

from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import RegistryClient

REGISTRY_BINARY = "/usr/bin/docker-registry"
Times = dict[str, list[float]]


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
        self.__exit__()
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


def run_client(work: Path, layout: Path, run: int, fresh: Times, noop: Times) -> None:
    """One run: each client pushes twice (fresh, then no-op) into a registry of its own."""
    RegistryClient("127.0.0.1:1").close()  # httpx's lazy imports, as a warm process has them
    env = python_env()
    # Alternate the order so neither tool always runs on a warmer machine.
    for tool in ("shipyard", "skopeo") if run % 2 == 0 else ("skopeo", "shipyard"):
        with PlainRegistry(work / f"plain-{tool}-{run}") as registry:
            for times in (fresh, noop):
                times[tool].append(client_push(registry.host, layout) if tool == "shipyard"
                                   else timed(skopeo_plain(registry.host, layout), env))
