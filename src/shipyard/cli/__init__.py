"""The command line: `shipyard <command>`; `main()` maps every error to its exit code."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

import typer

from shipyard.call_log import register_environment_secrets
from shipyard.cli import (  # noqa: F401  (registers the commands)
    appspec,
    build,
    cleanup,
    demo,
    deploy,
    diff,
    doctor,
    init,
    loadtest,
    login,
    push,
    rehearse,
    render,
    rollback,
    sbom,
    scan,
    sign,
    smoke,
    status,
    tags,
    verify,
    verify_image,
    version,
)
from shipyard.cli.app import app
from shipyard.cli.ci import ci_app
from shipyard.cli.policy import policy_app
from shipyard.cli.sandbox import sandbox_app
from shipyard.errors import ExitCode, ShipyardError
from shipyard.redaction import redact_output

app.add_typer(sandbox_app, name="sandbox")
app.add_typer(ci_app, name="ci")
app.add_typer(policy_app, name="policy")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the process exit code; the one place errors become exit codes.

    Under `--json` an error is JSON too, on stderr like every error:
    `{"error": {"code": "conflict", "exit": 6, "message": "..."}}`. stdout keeps at most one
    JSON document: the result, which commands such as verify print before they fail.
    """
    # The AWS secret key and session token are masked in whatever is printed, --verbose or not
    # (an endpoint or proxy may echo them into an error message).
    register_environment_secrets(os.environ)
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args[:args.index("--")] if "--" in args else "--json" in args
    report = _json_error if as_json else _error
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="shipyard", standalone_mode=False)
    except ShipyardError as error:
        report(error.message, error.exit_code)
        return int(error.exit_code)
    except typer.TyperException as error:  # click's usage errors: bad flags, missing arguments
        message = error.format_message()
        if message:  # empty when click already printed the help for a bare `shipyard`
            context = getattr(error, "ctx", None)
            where = context.command_path if context is not None else "shipyard"
            report(f"{message} (see '{where} --help')", ExitCode.USAGE)
        return int(getattr(error, "exit_code", ExitCode.USAGE))
    except typer.Abort:
        report("aborted", ExitCode.FAILURE)
        return int(ExitCode.FAILURE)
    except KeyboardInterrupt:
        _error("interrupted", ExitCode.FAILURE)  # 130 is the shell's code, not one of ours
        return 130
    except Exception as error:  # a bug: one line by default, the traceback when asked
        if os.environ.get("SHIPYARD_DEBUG"):
            raise
        report(f"unexpected {type(error).__name__}: {error} "
               "(rerun with SHIPYARD_DEBUG=1 for the traceback, and please report it)",
               ExitCode.FAILURE)
        return int(ExitCode.FAILURE)
    return result if isinstance(result, int) else int(ExitCode.OK)


# Every error message passes through `redact`: a registry, proxy or WAF may echo the request's
# credentials into the text an error carries, and this is the one place errors are written.
def _error(message: str, exit_code: ExitCode) -> None:
    sys.stderr.write(f"error: {redact_output(message)}\n")


def _json_error(message: str, exit_code: ExitCode) -> None:
    error = {"code": exit_code.name.lower(), "exit": int(exit_code),
             "message": redact_output(message)}
    sys.stderr.write(json.dumps({"error": error}) + "\n")
