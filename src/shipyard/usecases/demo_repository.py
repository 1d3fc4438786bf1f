"""The demo's own git repository: where `shipyard demo` makes the commits a team would push,
so that the checkout it runs from is never committed to, branched or tagged.

- The clone: the checkout's HEAD (committed files only), in the run's folder, on `develop`.
- Its `origin`: a bare repository that lives with the sandbox (`<sandbox>/demo/local/
  <service>.git`), playing GitHub. The workflow's build job pushes its release tags there, so
  a later demo on the same sandbox finds them: when that origin's `main` (the earlier demos'
  releases) is not already in HEAD's history, it is merged in with `-s ours` (the checkout's
  files unchanged), and versions go on from those releases instead of colliding with them.
- The commits it makes have a fixed identity and dates derived from HEAD's, so the same HEAD
  on a fresh sandbox gives the same commits, the same versions and the same image digests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import GitError

IDENTITY = ("Shipyard demo", "demo@shipyard.invalid")
# Seconds after HEAD's commit time at which each of the demo's commits is made.
MERGE_OFFSET, SECOND_COMMIT_OFFSET = 60, 120
# The file the second commit on main changes: under the service's folder, so the workflow's
# paths filter lets the push through as it would on GitHub.
RELEASE_NOTES = "DEMO-RELEASES.md"


def _git(cwd: Path, *args: str, when: int | None = None) -> str:
    env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    if when is not None:
        stamp = f"@{when} +0000"
        env.update(GIT_AUTHOR_NAME=IDENTITY[0], GIT_AUTHOR_EMAIL=IDENTITY[1],
                   GIT_COMMITTER_NAME=IDENTITY[0], GIT_COMMITTER_EMAIL=IDENTITY[1],
                   GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          check=False)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {detail}")
    return done.stdout.strip()


def checkout_root(project_dir: Path) -> Path:
    """The git repository the project folder is in; GitError outside one."""
    return Path(_git(project_dir, "rev-parse", "--show-toplevel"))


@dataclass(frozen=True)
class DemoRepository:
    """The clone (`root`, its work tree), its bare `origin`, and where it came from."""

    root: Path
    origin: Path
    head: str  # the checkout's HEAD the clone started from
    merged: str | None  # the earlier demos' main merged into develop, if it was
    dirty: bool  # the checkout had changes the clone does not hold

    def develop_sha(self) -> str:
        return _git(self.root, "rev-parse", "develop")


def prepare(checkout: Path, origin: Path, clone: Path, *, fresh: bool) -> DemoRepository:
    """Clone `checkout`'s HEAD into `clone` on branch develop, with `origin` (made when
    missing, emptied when `fresh`: a new sandbox holds none of its releases) as its remote,
    then push develop there."""
    head = _git(checkout, "rev-parse", "HEAD")
    dirty = bool(_git(checkout, "status", "--porcelain", "--untracked-files=no"))
    if fresh and origin.exists():
        shutil.rmtree(origin)
    if not origin.exists():
        origin.parent.mkdir(parents=True, exist_ok=True)
        _git(origin.parent, "init", "-q", "--bare", str(origin))
    clone.parent.mkdir(parents=True, exist_ok=True)
    _git(clone.parent, "clone", "-q", "--no-checkout", str(checkout), str(clone))
    _git(clone, "checkout", "-q", "-B", "develop", head)
    _git(clone, "remote", "set-url", "origin", str(origin))
    merged = None
    if _git(origin, "for-each-ref", "refs/heads/main"):
        _git(clone, "fetch", "-q", "--tags", "origin", "main")
        earlier = _git(clone, "rev-parse", "FETCH_HEAD")
        if not _is_ancestor(clone, earlier, head):
            when = int(_git(clone, "log", "-1", "--format=%ct", head)) + MERGE_OFFSET
            _git(clone, "merge", "-q", "-s", "ours", "--no-edit", "-m",
                 "Merge the sandbox's earlier demo releases", earlier, when=when)
            merged = earlier
    _git(clone, "push", "-q", "--force", "origin", "develop")
    return DemoRepository(clone, origin, head, merged, dirty)


def _is_ancestor(cwd: Path, older: str, newer: str) -> bool:
    done = subprocess.run(["git", "merge-base", "--is-ancestor", older, newer], cwd=cwd,
                          capture_output=True, check=False)
    return done.returncode == 0


def clean(repo: DemoRepository) -> None:
    """What the last rehearsal left in the clone's tree (reports, coverage) removed, as a
    fresh checkout would have it; the build's output (.shipyard, .build) is kept, as a
    cache."""
    _git(repo.root, "clean", "-q", "-f", "-d", "-x", "-e", ".shipyard", "-e", ".build")


def export_layouts(repo: DemoRepository, service_folder: Path, output: Path,
                   checkout: Path) -> list[Path]:
    """The OCI layouts the clone's build wrote in `output` (build.output, relative to the
    service folder; ignored by git), copied to the checkout's same folder, so `push
    --from-oci` there has the image of its HEAD; only when develop is that HEAD (nothing
    merged in), else they are another commit's image."""
    if repo.merged is not None or output.is_absolute():
        return []
    built = repo.root / service_folder / output
    target = checkout / service_folder / output
    copied = []
    for layout in sorted(p for p in built.glob("*") if (p / "oci-layout").is_file()):
        shutil.copytree(layout, target / layout.name, dirs_exist_ok=True)
        copied.append(target / layout.name)
    return copied


def merge_to_main(repo: DemoRepository) -> str:
    """main fast-forwarded to develop (the same commit, so its image is promoted, not
    rebuilt), pushed; returns the commit."""
    _git(repo.root, "checkout", "-q", "-B", "main", "develop")
    _git(repo.root, "push", "-q", "--force", "origin", "main")
    return _git(repo.root, "rev-parse", "HEAD")


def second_commit(repo: DemoRepository, service_folder: Path, line: str) -> str:
    """A commit on main that changes a file of the service (`line` added to its demo release
    notes), pushed; returns the commit."""
    notes = repo.root / service_folder / RELEASE_NOTES
    before = notes.read_text() if notes.exists() else "# Releases made by shipyard demo\n\n"
    notes.write_text(before + line + "\n")
    relative = str(notes.relative_to(repo.root))
    _git(repo.root, "add", relative)
    when = int(_git(repo.root, "log", "-1", "--format=%ct", "HEAD")) + SECOND_COMMIT_OFFSET
    _git(repo.root, "commit", "-q", "-m", f"fix: {line}", "--", relative, when=when)
    _git(repo.root, "push", "-q", "origin", "main")
    return _git(repo.root, "rev-parse", "HEAD")
