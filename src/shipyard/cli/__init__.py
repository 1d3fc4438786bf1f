"""The command line: `shipyard <command>`; `main()` maps every error to its exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from shipyard.cli import demo, tags, version  # noqa: F401  (registers the commands)
from shipyard.cli.app import app
from shipyard.errors import ExitCode, ShipyardError


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
    return result if isinstance(result, int) else int(ExitCode.OK)


def _error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
