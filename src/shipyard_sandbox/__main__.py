"""`python -m shipyard_sandbox serve --state-dir DIR ...`: run the sandbox in the foreground.

`shipyard sandbox up` starts this in the background; it writes `DIR/sandbox.json` once every
piece answers, and stops everything on SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

# AWS's managed policies (AWSCodeDeployRoleForECSLimited, ...) exist in moto only with this set
# before it loads; IAM loads them on its first request (about 0.6 s), not at start.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

from shipyard_sandbox import timescale
from shipyard_sandbox.control import write_state
from shipyard_sandbox.service import DEFAULT_REGION, Sandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shipyard_sandbox")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--registry-port", type=int, default=0)
    parser.add_argument("--aws-port", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=timescale.DEFAULT_FACTOR)
    args = parser.parse_args()
    timescale.set_factor(args.time_scale)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    sandbox = Sandbox(args.state_dir, region=args.region, registry_port=args.registry_port,
                      aws_port=args.aws_port)
    try:
        endpoints = sandbox.start()
        write_state(args.state_dir, endpoints)
        stopping.wait()
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
