"""The command line: `shipyard <command>`; `main()` maps every error to its exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from shipyard.cli import (  # noqa: F401  (registers the commands)
    appspec,
    demo,
    environments,
    login,
    push,
    tags,
    version,
)
from shipyard.cli.app import app
from shipyard.cli.sandbox import sandbox_app
from shipyard.errors import ExitCode, ShipyardError

app.add_typer(sandbox_app, name="sandbox")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the process exit code; the one place errors become exit codes."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="shipyard", standalone_mode=False)
    except ShipyardError as error:
        _error(error.message)
        return int(error.exit_code)
    except typer.TyperException as error:  # click's usage errors: bad flags, missing arguments
        message = error.format_message()
        if message:  # empty when click already printed the help for a bare `shipyard`
            context = getattr(error, "ctx", None)
            where = context.command_path if context is not None else "shipyard"
            _error(f"{message} (see '{where} --help')")
        return int(getattr(error, "exit_code", ExitCode.USAGE))
    except typer.Abort:
        _error("aborted")
        return int(ExitCode.FAILURE)
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as error:  # a bug: one line by default, the traceback when asked
        if os.environ.get("SHIPYARD_DEBUG"):
            raise
        _error(f"unexpected {type(error).__name__}: {error} "
               "(rerun with SHIPYARD_DEBUG=1 for the traceback, and please report it)")
        return int(ExitCode.FAILURE)
    return result if isinstance(result, int) else int(ExitCode.OK)


def _error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
