"""Where one shipyard command's time goes: a timeline of its AWS clients and calls, registry
requests and subprocesses, with the Python work (imports, our code) between them.

    eval "$(shipyard sandbox env)"    # or real AWS
    .venv/bin/python benchmarks/push_trace.py -C DIR push --from-oci LAYOUT
    .venv/bin/python benchmarks/push_trace.py --imports -C DIR push --from-oci LAYOUT

It hooks the libraries (botocore, httpx, subprocess), not Shipyard's modules, so it keeps
working while those move. Each library is hooked the moment it is first imported, so the
import times are those of the command alone. Lines name the call, never a header or a body.
`--imports` runs the command again under `python -X importtime` and lists the packages
whose imports cost most (self time; importtime itself slows imports by about a third).
"""

from __future__ import annotations

import collections
import functools
import gc
import importlib.abc
import importlib.util
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

START = time.perf_counter()
EVENTS: list[tuple[float, float, str, str]] = []  # (start, seconds, thread, what)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _timed(fn, describe):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        outcome = "error"
        try:
            result = fn(*args, **kwargs)
            outcome = getattr(result, "status_code", "")
            return result
        finally:
            EVENTS.append((began - START, time.perf_counter() - began,
                           threading.current_thread().name,
                           f"{describe(*args, **kwargs)} {outcome}".rstrip()))
    return wrapper


def _hook_botocore_session(module) -> None:
    module.Session.create_client = _timed(
        module.Session.create_client,
        lambda self, service, *a, **k: f"aws client {service} (models, endpoints)")


def _hook_botocore_client(module) -> None:
    module.BaseClient._make_api_call = _timed(
        module.BaseClient._make_api_call,
        lambda self, op, params: f"aws {self.meta.service_model.service_name}.{op}")


def _hook_httpx(module) -> None:
    module.Client.send = _timed(
        module.Client.send, lambda self, request, **k: f"http {request.method} {request.url.path}")


HOOKS = {"botocore.session": _hook_botocore_session, "botocore.client": _hook_botocore_client,
         "httpx": _hook_httpx}


class _HookOnImport(importlib.abc.MetaPathFinder):
    """Runs HOOKS[name] right after module `name` is first executed."""

    def find_spec(self, name, path, target=None):
        if name not in HOOKS:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            HOOKS[name](module)
        spec.loader.exec_module = exec_module
        return spec


def _command(command) -> str:
    """git's arguments in full (they hold no secret); of other tools only the first two."""
    words = [str(word) for word in command] if isinstance(command, list | tuple) else [command]
    return " ".join(words if Path(words[0]).name == "git" else words[:2])


def trace(argv: list[str]) -> int:
    sys.meta_path.insert(0, _HookOnImport())
    subprocess.run = _timed(subprocess.run, lambda cmd, *a, **k: f"run {_command(cmd)}")
    gc.disable()  # as the console script does (shipyard.entry)
    began = time.perf_counter()
    from shipyard.cli import main
    EVENTS.append((began - START, time.perf_counter() - began, "MainThread",
                   "import shipyard.cli (the CLI, before any command runs)"))
    gc.freeze()
    gc.enable()
    began = time.perf_counter()
    code = main(argv)
    EVENTS.append((began - START, time.perf_counter() - began, "MainThread",
                   "the command (main), all of it"))
    sys.stdout.flush()
    print(f"\n{'start':>8} {'took':>8}  {'thread':<18} what", file=sys.stderr)
    for start, seconds, thread, what in sorted(EVENTS):
        print(f"{start * 1000:7.1f}m {seconds * 1000:7.1f}m  {thread[:18]:<18} {what}",
              file=sys.stderr)
    print(f"{(time.perf_counter() - START) * 1000:7.1f} ms in this process (python's own "
          "start-up comes on top)", file=sys.stderr)
    return code


def import_costs(argv: list[str], top: int = 15) -> None:
    """The command under -X importtime; self time summed per top-level package."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path[:1])}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "shipyard", *argv],
                          env=env, capture_output=True, text=True, check=False, timeout=600)
    totals: collections.Counter[str] = collections.Counter()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            _, self_us, _, name = (part.strip() for part in line.replace(":", "|", 1)
                                   .split("|"))
            totals[name.split(".")[0]] += int(self_us)
    print(f"\nimports by package (self time, -X importtime); total "
          f"{sum(totals.values()) / 1000:.0f} ms", file=sys.stderr)
    for package, micros in totals.most_common(top):
        print(f"{micros / 1000:7.1f} ms  {package}", file=sys.stderr)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--imports"]:
        import_costs(arguments[1:])
    else:
        sys.exit(trace(arguments))
