"""The git CLI, asked one question at a time; failures become `GitError`.

We run the `git` binary rather than a library: it is what CI checkouts and developers have,
and it honours their config (safe.directory, worktrees, shallow clones) exactly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from shipyard.errors import ConflictError, GitError


class Git:
    """Git commands run in `cwd` (any folder inside the work tree)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        # What one `rev-parse` and one `tag --merged` said, asked once: a version is decided
        # from several questions about the same checkout, and each git process costs a fork.
        self._probe: tuple[bool, bool, str | None] | None = None
        self._tags: list[tuple[str, str]] | None = None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # LC_ALL=C keeps messages stable; GIT_TERMINAL_PROMPT=0 stops a hang asking for a login.
        env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
        if shutil.which("git") is None:
            raise GitError("the 'git' command is not installed; install git (apt-get install git)")
        result = subprocess.run(
            ["git", *args], cwd=self.cwd, env=env, capture_output=True, text=True, check=False
        )
        if check and result.returncode != 0:
            detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise GitError(f"git {' '.join(args)} failed in {self.cwd}: {detail}")
        return result

    def _out(self, *args: str) -> str:
        return self._run(*args).stdout.strip()

    def _state(self) -> tuple[bool, bool, str | None]:
        """(inside a work tree, shallow, HEAD's sha or None before the first commit)."""
        if self._probe is None:
            result = self._run("rev-parse", "--is-inside-work-tree", "--is-shallow-repository",
                               "--verify", "-q", "HEAD", check=False)
            if result.returncode not in (0, 1):
                self._refusal(result.stderr)
            lines = result.stdout.split()
            inside = result.returncode in (0, 1) and lines[:1] == ["true"]
            shallow = inside and lines[1:2] == ["true"]
            head = lines[2] if inside and result.returncode == 0 and len(lines) > 2 else None
            self._probe = (inside, shallow, head)
        return self._probe

    def _refusal(self, stderr: str) -> None:
        """Raise what git said when it refused to look at the repository for another reason
        than there being none (dubious ownership, a broken .git), with the fix it names."""
        if "not a git repository" in stderr or not stderr.strip():
            return
        said = stderr.strip().splitlines()[0].removeprefix("fatal: ").strip()
        fix = next((line.strip() for line in stderr.splitlines()
                    if "safe.directory" in line and line.strip().startswith("git config")), "")
        if "dubious ownership" in said or "unsafe repository" in said:  # git >= 2.36, 2.35.2
            fix = fix or f"git config --global --add safe.directory {self.cwd}"
            raise GitError(f"git {said} (another user owns it); if you trust it, run "
                           f"'{fix}', or run as the owner")
        raise GitError(f"git cannot read the repository at {self.cwd}: {said}; fix or "
                       "re-clone it")

    def _forget(self) -> None:
        """HEAD or the tags moved (we committed or tagged): ask git again next time."""
        self._probe, self._tags = None, None

    def is_repository(self) -> bool:
        return self._state()[0]

    def require_repository(self) -> None:
        """Raise a clear error when `cwd` is not in a work tree or has no commit yet."""
        if not self.is_repository():
            raise GitError(
                f"{self.cwd} is not inside a git repository; run it in a clone, "
                "or pass --version to give the version yourself"
            )
        if self._state()[2] is None:
            raise GitError(f"the repository at {self.cwd} has no commits yet; commit first")

    def head_sha(self) -> str:
        head = self._state()[2]
        return head if head is not None else self._out("rev-parse", "HEAD")

    def resolve(self, rev: str) -> str:
        """The full sha of a commit-ish."""
        return self._out("rev-parse", "--verify", f"{rev}^{{commit}}")

    def commit_time(self, rev: str = "HEAD") -> datetime:
        return datetime.fromtimestamp(int(self._out("show", "-s", "--format=%ct", rev)), tz=UTC)

    def has_commit(self, rev: str) -> bool:
        probe = self._run("cat-file", "-e", f"{rev}^{{commit}}", check=False)
        return probe.returncode == 0

    def current_branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        result = self._run("symbolic-ref", "--short", "-q", "HEAD", check=False)
        return result.stdout.strip() or None

    def _merged_tags(self) -> list[tuple[str, str]]:
        """(tag, the commit it names) for every tag reachable from HEAD."""
        if self._tags is None:
            # %(*objectname) is an annotated tag's commit, empty for a lightweight tag.
            lines = self._out("tag", "--merged", "HEAD",
                              "--format=%(refname:strip=2) %(objectname) %(*objectname)")
            self._tags = [(parts[0], parts[-1]) for parts in
                          (line.split() for line in lines.splitlines()) if len(parts) >= 2]
        return self._tags

    def tags_at_head(self) -> list[str]:
        head = self.head_sha()
        return [name for name, commit in self._merged_tags() if commit == head]

    def tags_reachable(self) -> list[str]:
        return [name for name, _ in self._merged_tags()]

    def is_dirty(self) -> bool:
        return bool(self._out("status", "--porcelain", "--untracked-files=no"))

    def is_shallow(self) -> bool:
        return self._state()[1]

    def commits_since(self, rev: str | None) -> int:
        """Commits reachable from HEAD but not from `rev` (all of HEAD's history for None)."""
        spec = f"{rev}..HEAD" if rev else "HEAD"
        return int(self._out("rev-list", "--count", spec))

    def last_commit_touching(self, path: Path) -> str | None:
        """The newest commit that changed `path`, or None if no commit did."""
        return self._out("log", "-1", "--format=%H", "--", str(path)) or None

    def tag_exists(self, name: str) -> bool:
        return self._run("rev-parse", "-q", "--verify", f"refs/tags/{name}", check=False
                         ).returncode == 0

    def create_annotated_tag(self, name: str, message: str, rev: str = "HEAD") -> None:
        """Create an annotated tag; an existing tag is a conflict, never overwritten."""
        if self.tag_exists(name):
            raise ConflictError(f"git tag {name} already exists; choose another version")
        self._run(*self._identity(), "tag", "-a", name, "-m", message, rev)
        self._forget()

    def _identity(self) -> list[str]:
        if self._run("config", "user.email", check=False).returncode != 0:
            # CI checkouts have no committer identity; a commit or an annotated tag needs one.
            return ["-c", "user.name=shipyard", "-c", "user.email=shipyard@localhost"]
        return []

    def require_committable(self, path: Path) -> None:
        """Raise unless `path` can be committed alone: inside the work tree, HEAD on a branch
        or detached (both fine), and no merge or rebase under way."""
        inside = self._run("ls-files", "--error-unmatch", "--", str(path), check=False)
        ignored = self._run("check-ignore", "-q", "--", str(path), check=False)
        if inside.returncode != 0 and ignored.returncode == 0:
            raise GitError(f"{path} is ignored by git, so its new version cannot be "
                           "committed; stop ignoring it, or drop --write or --git-tag")
        git_dir = Path(self._out("rev-parse", "--absolute-git-dir"))
        for marker in ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD"):
            if (git_dir / marker).exists():
                raise GitError(f"a merge, rebase or cherry-pick is under way in {self.cwd}; "
                               "finish it before --write --git-tag commits the version")

    def commit_paths(self, paths: list[Path], message: str) -> str:
        """Commit only `paths` (other staged changes stay staged); returns the new sha."""
        names = [str(p) for p in paths]
        self._run("add", "--", *names)
        self._run(*self._identity(), "commit", "-q", "--only", "-m", message, "--", *names)
        self._forget()
        return self.head_sha()

    def remote_url(self, name: str = "origin") -> str | None:
        result = self._run("remote", "get-url", name, check=False)
        return result.stdout.strip() or None
