"""The Typer application, its global options, and how results reach the terminal.

This package is the only place that imports Typer or rich. Output goes one of three ways:
rich on a terminal, plain lines elsewhere (CI logs, pipes), JSON with `--json`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.adapters.git import Git
from shipyard.adapters.github import ActionsContext, GitHubOutputs
from shipyard.cli import help_types
from shipyard.redaction import SECRETS, redact_output

if TYPE_CHECKING:
    from shipyard.adapters.builders import Builder
    from shipyard.adapters.registry import ProgressCallback
    from shipyard.config import Config
    from shipyard.usecases.context import Context

help_types.install()

app = typer.Typer(
    name="shipyard",
    help="Release and deploy containerized services on AWS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class Session:
    """What every command gets: the project folder and the adapters built from it."""

    project_dir: Path
    env: dict[str, str]

    def config(self) -> Config:
        """Load shipyard.toml only when a command runs, so `--help` never needs it."""
        from shipyard.config import load_config  # pydantic: only when a command runs

        return load_config(self.project_dir)

    def git(self, config: Config) -> Git:
        return Git(config.project_dir)

    def actions(self) -> ActionsContext | None:
        return ActionsContext.from_env(self.env)

    def outputs(self) -> GitHubOutputs:
        """The step's output files, checked: a command that publishes calls this before its
        use case runs, so an unwritable file stops it before any tag, file or push."""
        outputs = GitHubOutputs(self.env)
        outputs.check()
        return outputs

    def context(self, config: Config, *, builder: Builder | None = None,
                progress: ProgressCallback | None = None) -> Context:
        """The one context a use case gets: built here, at the edge, once per command."""
        from shipyard.usecases.context import Context
        from shipyard.usecases.target import region_of

        return Context(env=self.env, region=region_of(config, self.env),
                       git=self.git(config), actions=self.actions(), builder=builder,
                       progress=progress)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("shipyard")
        except PackageNotFoundError:  # run from a source tree without installing
            installed = "unknown (not installed)"
        sys.stdout.write(f"shipyard {installed}\n")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    ctx: typer.Context,
    project_dir: Annotated[
        Path,
        # A file is refused by load_config, as a configuration error (exit 3) like a missing
        # folder, not by click as a usage error.
        typer.Option("-C", "--project-dir", help="The service folder holding shipyard.toml."),
    ] = Path("."),
    verbose: Annotated[
        bool,
        typer.Option("-v", "--verbose", envvar="SHIPYARD_VERBOSE",
                     help="Show each AWS and registry call (method, URL, status, time) on "
                     "stderr; secrets are masked."),
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version,
                     help="Print Shipyard's version and exit."),
    ] = False,
) -> None:
    if verbose:
        from shipyard.call_log import enable_verbose  # only then: start-up stays fast

        enable_verbose(stream=sys.stderr)
    ctx.obj = Session(project_dir=project_dir, env=dict(os.environ))


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]


class Out:
    """Renders a command's result for a terminal, a log, or a script.

    rich is imported only for a terminal: CI logs and pipes get plain lines, and the command
    starts faster without it.
    """

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        self.fancy = sys.stdout.isatty() and not os.environ.get("CI") and not as_json
        self._consoles: dict[bool, Any] = {}

    def console(self, stderr: bool = False) -> Any:
        """The rich console for stdout or stderr (terminal output only).

        It writes through the same redaction as `_write`: tables, progress bars and live views
        are drawn by rich, not by `_write`, and a secret must not reach the terminal that way.
        """
        if stderr not in self._consoles:
            from rich.console import Console

            stream = _RedactingStream(sys.stderr if stderr else sys.stdout, _redactor(stderr))
            self._consoles[stderr] = Console(file=stream, highlight=False)
        return self._consoles[stderr]

    def json(self, data: Any) -> None:
        sys.stdout.write(SECRETS.redact(json.dumps(data, indent=2)) + "\n")

    def line(self, text: str) -> None:
        """A plain line on stdout (markup is never interpreted)."""
        self._write(text, stderr=False, style=None)

    def info(self, text: str) -> None:
        """A note for people, on stderr so that stdout stays clean for scripts."""
        if not self.as_json:
            self._write(text, stderr=True, style="dim")

    def warn(self, text: str) -> None:
        self._write(f"warning: {text}", stderr=True, style="yellow")

    def _write(self, text: str, *, stderr: bool, style: str | None) -> None:
        # The one redaction point for output lines. Notes on stderr (retry reasons: what a
        # registry or proxy answered) lose Authorization values too; results on stdout are
        # data that must stay exact (a rendered task definition), so only the secrets this
        # process holds are masked there, in every encoding.
        text = _redactor(stderr)(text)
        if self.fancy:
            self.console(stderr).print(text, markup=False, soft_wrap=True, style=style)
        else:
            stream = sys.stderr if stderr else sys.stdout
            stream.write(text + "\n")
            stream.flush()


def _redactor(stderr: bool) -> Callable[[str], str]:
    return redact_output if stderr else SECRETS.redact


class _RedactingStream:
    """A text stream that redacts each write: what rich draws (a table, a progress bar, a
    frame of a live view) is written whole per refresh, so a secret in it is seen whole."""

    def __init__(self, stream: Any, redact: Callable[[str], str]) -> None:
        self._stream, self._redact = stream, redact

    def write(self, text: str) -> int:
        return self._stream.write(self._redact(text))

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, flush, encoding: the stream's
        return getattr(self._stream, name)


def session(ctx: typer.Context) -> Session:
    state = ctx.obj
    assert isinstance(state, Session)
    return state
