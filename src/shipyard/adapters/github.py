"""GitHub Actions: the run's context from its environment, and the step's outputs.

In Actions the checkout is a detached HEAD, so the branch, tag or pull request comes from the
`GITHUB_*` variables rather than from git. Outputs and the step summary are files named by
`GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`; outside Actions they are unset and nothing is written.
"""

from __future__ import annotations

import re
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
    """Writes step outputs and the step summary when Actions names their files."""

    def __init__(self, env: Mapping[str, str]) -> None:
        output = env.get("GITHUB_OUTPUT")
        summary = env.get("GITHUB_STEP_SUMMARY")
        self.output_file = Path(output) if output else None
        self.summary_file = Path(summary) if summary else None

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
        with self.output_file.open("a", encoding="utf-8") as handle:
            handle.write("".join(lines))

    def summary(self, markdown: str) -> None:
        """Append a Markdown section to the job summary."""
        if self.summary_file is None:
            return
        with self.summary_file.open("a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")
