"""The `shipyard` console script: start-up and exit tuned for a command that runs once.

The cyclic garbage collector runs many times while a few thousand classes are imported
(pydantic, botocore, httpx) and again over all of them at exit, finding nothing to free: a
short-lived command is faster with it off during imports and the imported objects frozen out
of its reach afterwards. The collector stays on for the command itself. At the end, once the
command's files are closed and its output flushed, the process exits without tearing down
every module one by one, which takes tens of milliseconds and does nothing useful.
"""

from __future__ import annotations

import gc
import os
import sys


def run() -> int:
    """Import the CLI with the collector paused, run it, and exit with its code."""
    gc.disable()
    try:
        from shipyard.cli import main
    finally:
        gc.freeze()
        gc.enable()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # a reader that went away, or a closed stream
            code = code or 1
    os._exit(code)
