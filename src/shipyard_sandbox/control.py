"""`up`, `down` and `env`: the sandbox as one background process with a state file.

The state file (`sandbox.json` in the state folder) holds the endpoints and the process id; it
holds no secret (the registry password lives only in the sandbox process and is handed out by
`GetAuthorizationToken`, as ECR does).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from shipyard_sandbox.elb.bridge import LISTENERS_FILE
from shipyard_sandbox.service import SandboxEndpoints

STATE_FILE = "sandbox.json"


class SandboxError(Exception):
    """The sandbox could not be started, found or stopped."""


def default_state_dir() -> Path:
    override = os.environ.get("SHIPYARD_SANDBOX_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "shipyard" / "sandbox"


def write_state(state_dir: Path, endpoints: SandboxEndpoints) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    temporary = state_dir / f".{STATE_FILE}.tmp"
    temporary.write_text(json.dumps({"pid": os.getpid(), **asdict(endpoints)}, indent=2))
    temporary.replace(state_dir / STATE_FILE)


def read_state(state_dir: Path) -> dict | None:
    """The running sandbox's state, or None when none runs (a stale file is removed)."""
    path = state_dir / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(state.get("pid", 0)):
        path.unlink(missing_ok=True)
        return None
    return state


def listeners(state_dir: Path) -> list[dict]:
    """The load balancer listeners the sandbox serves, each with its local `url`, its
    `listener_arn`, `load_balancer`, `port` and `variable` (SHIPYARD_LISTENER_<LB>_<PORT>),
    as the running sandbox keeps them in `listeners.json`."""
    try:
        document = json.loads((state_dir / LISTENERS_FILE).read_text())
    except (OSError, ValueError):
        return []
    return list(document.get("listeners", []))


def listener_environment(state_dir: Path) -> dict[str, str]:
    """SHIPYARD_LISTENER_<LOAD BALANCER>_<PORT> -> the URL that serves that listener."""
    return {entry["variable"]: entry["url"] for entry in listeners(state_dir)}


def endpoints_of(state: dict) -> SandboxEndpoints:
    return SandboxEndpoints(state["aws_endpoint"], state["registry"], state["region"],
                            state["account_id"])


def up(state_dir: Path, *, region: str, registry_port: int = 0, aws_port: int = 0,
       time_scale: float | None = None, timeout: float = 60.0
       ) -> tuple[SandboxEndpoints, bool]:
    """Start the sandbox unless it runs; returns its endpoints and whether it was started.
    `time_scale` (None: the sandbox's default) applies only to a sandbox this call starts."""
    running = read_state(state_dir)
    if running:
        return endpoints_of(running), False
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "sandbox.log"
    command = [sys.executable, "-m", "shipyard_sandbox", "serve", "--state-dir", str(state_dir),
               "--region", region, "--registry-port", str(registry_port),
               "--aws-port", str(aws_port),
               *(["--time-scale", repr(time_scale)] if time_scale is not None else [])]
    deadline = time.monotonic() + timeout
    # A port picked free can be taken by another process before the sandbox binds it (moto's
    # server then waits forever): start again on new ports, at most three times, unless the
    # caller chose the ports.
    tries = 1 if registry_port or aws_port else 3
    for _ in range(tries):
        started = _start(command, state_dir, log_path, deadline, timeout)
        if started is not None:
            return endpoints_of(started), True
    raise SandboxError(f"the sandbox could not bind its ports ({tries} tries); see {log_path}")


_PORT_TAKEN = (b"Address already in use", b"is in use by another program")


def _start(command: list[str], state_dir: Path, log_path: Path, deadline: float,
           timeout: float) -> dict | None:
    """One start of the sandbox process: its state once it serves, or None when a port it
    picked was taken meanwhile (the process is stopped). SandboxError otherwise."""
    offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    while time.monotonic() < deadline:
        state = read_state(state_dir)
        if state and state["pid"] == process.pid:
            return state
        with log_path.open("rb") as log:
            log.seek(offset)
            said = log.read()
        if any(marker in said for marker in _PORT_TAKEN):
            _stop(process)
            return None
        if process.poll() is not None:
            raise SandboxError(f"the sandbox exited during start; see {log_path}")
        time.sleep(0.1)
    process.terminate()
    raise SandboxError(f"the sandbox did not start within {timeout:.0f}s; see {log_path}")


def _stop(process: subprocess.Popen) -> None:
    """A sandbox stuck before serving: SIGTERM to its process group (its registry too), then
    SIGKILL after 3 s (its own handler waits for a loop the stuck start never reaches)."""
    for sent, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sent)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def down(state_dir: Path, timeout: float = 15.0) -> bool:
    """Stop the sandbox; returns False when none was running."""
    state = read_state(state_dir)
    if state is None:
        return False
    pid = state["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def provision(state_dir: Path, template: Path, parameters: dict[str, str], *,
              stack_name: str | None = None):
    """Create TEMPLATE's resources in the running sandbox (`shipyard sandbox provision`).

    Returns `shipyard_sandbox.provision.ProvisionReport`; raises `SandboxError` (its subclass
    `ProvisionError` included) with a message naming the cause.
    """
    state = read_state(state_dir)
    if state is None:
        raise SandboxError(f"no sandbox is running (state {state_dir}); "
                           "start one with: shipyard sandbox up")
    from shipyard_sandbox.provision import provision as provision_template

    return provision_template(state["aws_endpoint"], state["region"], template, parameters,
                              stack_name=stack_name)
