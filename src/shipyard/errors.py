"""Shipyard's errors: one base class, each subclass carrying its process exit code.

The hierarchy::

    ShipyardError            1  anything unexpected that we still name
    ├── UsageError           2  a flag value or combination that cannot work
    ├── ConfigError          3  shipyard.toml is unreadable or invalid
    ├── VersionFileError     4  version.txt is missing, empty or not a stable semver
    ├── GitError             5  not a git repository, no commits, git failed
    └── ConflictError        6  the thing we would create already exists (a git tag)

Every message is one line that names the bad input and says how to fix it. The CLI maps an
error to its exit code in exactly one place (``shipyard.cli.main``).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; the README's table is generated from the same numbers."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    CONFIG = 3
    VERSION_FILE = 4
    GIT = 5
    CONFLICT = 6


class ShipyardError(Exception):
    """Base class: a failure we can explain in one line."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ShipyardError):
    """A flag value or combination of flags that cannot work."""

    exit_code = ExitCode.USAGE


class ConfigError(ShipyardError):
    """shipyard.toml cannot be read or does not validate."""

    exit_code = ExitCode.CONFIG


class VersionFileError(ShipyardError):
    """The version file is missing, empty or not a stable semantic version."""

    exit_code = ExitCode.VERSION_FILE


class GitError(ShipyardError):
    """Git cannot answer: not a repository, no commits yet, or the command failed."""

    exit_code = ExitCode.GIT


class ConflictError(ShipyardError):
    """What we would create already exists, so we stop instead of overwriting it."""

    exit_code = ExitCode.CONFLICT
