"""A `run:` step as the runner runs it: its script in a file, the shell GitHub picks, its output
in a log, and a bound on its time. The files Actions reads after a step (GITHUB_OUTPUT,
GITHUB_ENV, GITHUB_PATH) are parsed here too."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard.redaction import SECRETS

# The shells of GitHub's Linux runners: with no `shell:`, bash -e; `shell: bash` adds pipefail.
SHELLS = {
    None: (["bash", "-e", "{0}"], ".sh"),
    "bash": (["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"], ".sh"),
    "sh": (["sh", "-e", "{0}"], ".sh"),
    "python": ([sys.executable, "{0}"], ".py"),
}
GRACE_SECONDS = 5.0  # after SIGTERM, before SIGKILL; and for the output reader to finish
MASK_COMMAND = "::add-mask::"


class ShellRefused(ValueError):
    """A `shell:` the rehearsal does not run (pwsh, cmd)."""


def command_for(shell: str | None, script: Path) -> list[str]:
    if shell in SHELLS:
        template = SHELLS[shell][0]
    elif shell and "{0}" in shell:
        template = shlex.split(shell)
    else:
        raise ShellRefused(f"shell {shell!r}: the rehearsal runs bash, sh, python, or a "
                           "command line with {0}")
    return [str(script) if part == "{0}" else part for part in template]


def suffix_for(shell: str | None) -> str:
    return SHELLS[shell][1] if shell in SHELLS else ".sh"


@dataclass(frozen=True)
class Finished:
    exit_code: int | None  # None: timed out and killed
    tail: tuple[str, ...]  # the last lines it printed (secrets masked)


def run_script(command: list[str], *, cwd: Path, env: Mapping[str, str], log: Path,
               timeout: float, on_line: Callable[[str], None] | None = None,
               tail_lines: int = 20) -> Finished:
    """Run `command` in a session of its own, its output (masked) to `log`; kill the session
    when `timeout` seconds pass."""
    log.parent.mkdir(parents=True, exist_ok=True)
    tail: list[str] = []
    with log.open("w") as stream:
        try:
            process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        except OSError as exc:
            stream.write(f"cannot start {command[0]}: {exc}\n")
            return Finished(127, (f"cannot start {command[0]}: {exc.strerror}",))

        def read() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.startswith(MASK_COMMAND):  # the workflow command GitHub honours too
                    SECRETS.register(line[len(MASK_COMMAND):].strip())
                    continue
                line = SECRETS.redact(line)
                stream.write(line + "\n")
                tail.append(line)
                del tail[:-tail_lines]
                if on_line is not None:
                    on_line(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            code: int | None = process.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            _kill(process)
            code = None
        # A background child that kept the pipe open must not hold the rehearsal.
        reader.join(GRACE_SECONDS)
    return Finished(code, tuple(tail))


def _kill(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)  # the step's own session, started above
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


class CommandFileError(ValueError):
    """A GITHUB_OUTPUT or GITHUB_ENV file that is not NAME=VALUE or NAME<<DELIMITER lines."""


def read_command_file(path: Path) -> dict[str, str]:
    """NAME=VALUE and NAME<<DELIMITER ... DELIMITER entries, as Actions reads them.

    >>> import tempfile; f = Path(tempfile.mkstemp()[1])
    >>> _ = f.write_text("a=1\\nb<<EOF\\nx\\ny\\nEOF\\n")
    >>> read_command_file(f)
    {'a': '1', 'b': 'x\\ny'}
    """
    if not path.exists():
        return {}
    lines = path.read_text().split("\n")
    values: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r")
        index += 1
        if not line:
            continue
        heredoc = line.find("<<")
        equals = line.find("=")
        if heredoc > 0 and (equals < 0 or heredoc < equals):
            name, delimiter = line[:heredoc], line[heredoc + 2:]
            body: list[str] = []
            while index < len(lines) and lines[index].rstrip("\r") != delimiter:
                body.append(lines[index])
                index += 1
            if index >= len(lines):
                raise CommandFileError(f"{path.name}: {name}<<{delimiter} has no closing "
                                       f"{delimiter}")
            index += 1
            values[name] = "\n".join(body)
        elif equals > 0:
            values[line[:equals]] = line[equals + 1:]
        else:
            raise CommandFileError(f"{path.name}: {line[:40]!r} is neither NAME=VALUE nor "
                                   "NAME<<DELIMITER")
    return values


def read_path_file(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]
