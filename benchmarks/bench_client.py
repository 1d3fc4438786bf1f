"""The two registry clients alone: `RegistryClient.push_layout` in this process against
`skopeo copy`, both straight to a plain loopback `docker-registry` (no auth, no proxy)."""

from __future__ import annotations

import time
from pathlib import Path

from bench_routes import python_env, timed

from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import RegistryClient
from shipyard_sandbox.registry import RegistryProcess

Times = dict[str, list[float]]


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
        with RegistryProcess(work / f"plain-{tool}-{run}") as registry:  # anonymous
            for times in (fresh, noop):
                times[tool].append(client_push(registry.address, layout) if tool == "shipyard"
                                   else timed(skopeo_plain(registry.address, layout), env))
