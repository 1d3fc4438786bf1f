"""GitHub Actions: the run's context from its environment, and the step's outputs.

In Actions the checkout is a detached HEAD, so the branch, tag or pull request comes from the
`GITHUB_*` variables rather than from git. Outputs and the step summary are files named by
`GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`; outside Actions they are unset and nothing is written.
"""

from __future__ import annotations

import os
import re
import stat
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import UsageError

_PULL_REF = re.compile(r"refs/pull/([1-9][0-9]{0,9})/(merge|head)")
PULL_REF_PREFIX = "refs/pull/"
TAG_REF_PREFIX = "refs/tags/"


@dataclass(frozen=True)
class ActionsContext:
    """The parts of a GitHub Actions run that decide a version."""

    event_name: str
    ref: str
    ref_name: str
    ref_type: str
    head_ref: str
    sha: str
    server_url: str = ""
    repository: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ActionsContext | None:
        """The context when `GITHUB_ACTIONS=true`, else None."""
        if env.get("GITHUB_ACTIONS") != "true":
            return None
        return cls(
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            ref=env.get("GITHUB_REF", ""),
            ref_name=env.get("GITHUB_REF_NAME", ""),
            ref_type=env.get("GITHUB_REF_TYPE", ""),
            head_ref=env.get("GITHUB_HEAD_REF", ""),
            sha=env.get("GITHUB_SHA", ""),
            server_url=env.get("GITHUB_SERVER_URL", ""),
            repository=env.get("GITHUB_REPOSITORY", ""),
        )

    @property
    def pull_request(self) -> int | None:
        """The pull-request number from `refs/pull/N/merge`, or None."""
        match = _PULL_REF.fullmatch(self.ref)
        if match is None and self.ref.startswith(PULL_REF_PREFIX):
            # Not a branch either: a version decided from it would be the wrong kind.
            raise UsageError(f"GITHUB_REF {self.ref!r} is not refs/pull/<number>/merge or "
                             "/head; set GITHUB_REF as GitHub does, or leave it unset")
        return int(match.group(1)) if match else None

    @property
    def tag(self) -> str | None:
        """The tag this run is for (a tag push or a release event), or None."""
        if self.ref.startswith(TAG_REF_PREFIX):
            return self.ref[len(TAG_REF_PREFIX):]
        if self.ref_type == "tag" and self.ref_name:
            return self.ref_name
        return None

    @property
    def branch(self) -> str | None:
        """The branch: the PR's head branch for pull requests, the pushed branch otherwise."""
        if self.pull_request is not None:
            return self.head_ref or None
        if self.tag is not None:
            return None
        if self.ref.startswith("refs/heads/"):
            return self.ref[len("refs/heads/"):]
        return self.ref_name or None

    @property
    def repository_url(self) -> str:
        if self.server_url and self.repository:
            return f"{self.server_url}/{self.repository}"
        return ""


class GitHubOutputs:
    """Writes step outputs and the step summary when Actions names their files.

    `check()` runs before a command's first write (the CLI's `Session.outputs()` calls it), so
    a file that cannot be appended to stops the command before it tags, writes or pushes
    anything, rather than after its work is done.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        output = env.get("GITHUB_OUTPUT")
        summary = env.get("GITHUB_STEP_SUMMARY")
        self.output_file = Path(output) if output else None
        self.summary_file = Path(summary) if summary else None

    def check(self) -> None:
        """Raise UsageError unless each named file can be appended to; changes nothing."""
        for variable, path in self._files():
            problem = _append_problem(path)
            if problem:
                raise UsageError(f"{variable} {path} {problem}; point {variable} at a writable "
                                 "file (in GitHub Actions, leave it as the runner sets it)")

    def set(self, **outputs: str) -> None:
        """Append `key=value` lines; a value with a newline uses the heredoc form."""
        if self.output_file is None:
            return
        lines = []
        for key, value in outputs.items():
            if "\n" in value:
                delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
                lines.append(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                lines.append(f"{key}={value}\n")
        self._append("GITHUB_OUTPUT", self.output_file, "".join(lines))

    def summary(self, markdown: str) -> None:
        """Append a Markdown section to the job summary."""
        if self.summary_file is None:
            return
        self._append("GITHUB_STEP_SUMMARY", self.summary_file, markdown.rstrip("\n") + "\n\n")

    def _files(self) -> list[tuple[str, Path]]:
        named = (("GITHUB_OUTPUT", self.output_file), ("GITHUB_STEP_SUMMARY", self.summary_file))
        return [(variable, path) for variable, path in named if path is not None]

    @staticmethod
    def _append(variable: str, path: Path, text: str) -> None:
        # Checked before the command's work, so this fails only when the file changed since
        # (a full disk, a race): the command's result is printed by then; say it happened.
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise UsageError(f"{variable} {path} could not be written ({exc.strerror}) after "
                             "the command's work was done (its result is printed above); "
                             f"point {variable} at a writable file") from exc


def _append_problem(path: Path) -> str | None:
    """Why `path` cannot be appended to, or None. Opens an existing file for appending and
    closes it at once (no byte written, nothing created); a new file needs a writable folder."""
    try:
        status = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            # Appending would create the link's target, wherever it points, or fail only after
            # the command's work when the target's folder is missing.
            return f"is a symbolic link to {os.readlink(path)}, which does not exist"
        folder = path.parent
        if not folder.is_dir():
            return "is in a folder that does not exist"
        if not os.access(folder, os.W_OK | os.X_OK):
            return "cannot be created (its folder is not writable)"
        return None
    except OSError as exc:
        return f"cannot be reached ({exc.strerror})"
    if stat.S_ISDIR(status.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(status.st_mode) and str(path) != os.devnull:
        return "is not a regular file"  # a FIFO would block the command until read
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    except OSError as exc:
        return f"cannot be written ({exc.strerror})"
    return None
