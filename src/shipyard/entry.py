"""The `shipyard` console script: start-up and exit tuned for a command that runs once.

The cyclic garbage collector runs many times while a few thousand classes are imported
(pydantic, botocore, httpx) and again over all of them at exit, finding nothing to free: a
short-lived command is faster with it off during imports and the imported objects frozen out
of its reach afterwards. It stays off for the command's first two seconds too: a boto3
client's service model is tens of thousands of fresh dicts that the collector would walk
over and over (about 20 ms of a 0.45 s no-op push, in 130 collections) for nothing, since
reference counting frees everything a short command drops. A command still running after
two seconds (a build, a scan, a deploy) gets the collector back. At the end, once the
command's files are closed and its output flushed, the process exits without tearing down
every module one by one, which takes tens of milliseconds and does nothing useful.

Help follows the rule every other output follows: rich on a terminal, plain text in pipes
and CI logs. Typer formats help with rich unless `TYPER_USE_RICH` says otherwise, and
importing its rich formatter (rich's markdown, tracebacks, pretty printer) costs about 70 ms,
a third of `shipyard --help`; off a terminal that is paid for box-drawing nobody sees.
"""

from __future__ import annotations

import gc
import os
import sys
import threading

_TYPER_RICH = "TYPER_USE_RICH"
COLLECTOR_BACK_AFTER = 2.0  # seconds


def run() -> int:
    """Import the CLI with the collector paused, run it, and exit with its code."""
    # A bare `shipyard` keeps rich help: click reports "no arguments" as a usage error that
    # carries the plain help text, and main() would print that as an error.
    plain_help = len(sys.argv) > 1 and _TYPER_RICH not in os.environ and not _on_terminal()
    if plain_help:
        os.environ[_TYPER_RICH] = "0"  # read once, when Typer is imported
    gc.disable()
    try:
        from shipyard.cli import main
    finally:
        gc.freeze()
        if plain_help:
            del os.environ[_TYPER_RICH]  # not handed on to the tools a command runs
    collector = threading.Timer(COLLECTOR_BACK_AFTER, gc.enable)
    collector.daemon = True
    collector.start()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # a reader that went away, or a closed stream
            code = code or 1
    os._exit(code)


def _on_terminal() -> bool:
    """The same test as the CLI's own output: a terminal, and not a CI log."""
    try:
        return sys.stdout.isatty() and not os.environ.get("CI")
    except (AttributeError, ValueError):  # no stdout, or a closed one
        return False
