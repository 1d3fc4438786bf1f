"""The bad-input corpus's machinery: a case, how it is run, and "nothing was written".

A `Case` is one bad input: files to put into the project (or anywhere under the test's
temporary folder), the CLI arguments and environment, the exit code README.md documents, and
the words the one `error: ` line must hold. `{tmp}`, `{project}` and `{oci:NAME}` in the
arguments and environment are filled in when it runs.

"Nothing was written" is checked on everything a command could change: the git repository
(files, tags, index, HEAD), the sandbox registry's storage tree (every path and size, upload
sessions in `_uploads` included), ECR's repositories, and moto's whole state (see
`moto_state`).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# File contents that are not contents: a folder, a FIFO, a symbolic link to nothing.
FOLDER, FIFO, LINK_TO_NOWHERE = "<folder>", "<fifo>", "<dangling link>"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    words: tuple[str, ...]
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    # What must never be printed (a secret-looking value the input carries).
    secret: str | None = None
    # Lines besides the error that stderr may hold, by their start (appspec --check's
    # "FILE: problem" lines); "{tmp}" is filled in.
    other_lines: str | None = None
    # Prepares what files cannot say (a git state, say): setup(repo, tmp_path), which may
    # return a function that undoes it after the case (an immutable file's flag).
    setup: Callable | None = None
    # Another project folder than the repository's (`-C` it instead): "{tmp}/plain".
    project: str | None = None


def case(id: str, args: list[str] | str, code: int, words: list[str] | str, **extra) -> Case:
    args = args.split() if isinstance(args, str) else args
    words = [words] if isinstance(words, str) else words
    return Case(id, tuple(args), code, tuple(words), **extra)


def fill(text: str, places: Mapping[str, str]) -> str:
    for name, value in places.items():
        text = text.replace("{" + name + "}", value)
    return text


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write `files` (relative to `root`), each replacing what is there."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.is_file():
            path.unlink()
        if content == FOLDER:
            path.mkdir()
        elif content == FIFO:
            os.mkfifo(path)
        elif content == LINK_TO_NOWHERE:
            path.symlink_to(root / "no-such-folder" / "gone")
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())


def assert_refused(result, code: int, words: tuple[str, ...], *, other_lines: str | None = None,
                   secret: str | None = None, tmp: str | None = None) -> None:
    """The documented exit code, one `error: ` line holding `words`, no crash, no secret.

    With `tmp`, the test's folder is "{tmp}" in the line before the words are looked for: its
    name holds the case's id ("...template_folder0"), which must not pass for a word.
    """
    assert result.code == code, (result.code, result.err)
    lines = result.err.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.err
    others = [line for line in lines if not line.startswith("error: ")]
    assert all(other_lines and line.startswith(other_lines) for line in others), result.err
    assert "Traceback" not in result.err and "unexpected" not in result.err, result.err
    line = errors[0].replace(tmp, "{tmp}") if tmp else errors[0]
    for word in words:
        assert word in line, (word, line)
    if secret:
        assert secret not in result.err and secret not in result.out


def storage_tree(root: Path) -> list[tuple[str, int]]:
    """Every path under the registry's storage folder and its size (folders count as 0)."""
    if not root.exists():
        return []
    return sorted((str(path.relative_to(root)), 0 if path.is_dir() else path.stat().st_size)
                  for path in root.rglob("*"))


def moto_state(endpoint: str) -> dict:
    """moto's whole state (GET /moto-api/data.json), normalised where a read changes it.

    moto builds a partition's IAM backend the first time anything asks for it (an STS
    GetCallerIdentity does), and each new backend adds its copy of the AWS managed policies
    and of the account summary. Those are moto's own fixtures, not what a command wrote: a
    command cannot create an AWS managed policy. So the managed policies are left out, and the
    account summaries are compared as a set (the counters in them still change when a user,
    role or policy is created).
    """
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=60) as answer:
        state = json.loads(answer.read())
    iam = state.get("iam", {})
    iam.pop("AWSManagedPolicy", None)
    if "AccountSummary" in iam:
        iam["AccountSummary"] = sorted({json.dumps(s, sort_keys=True)
                                        for s in iam["AccountSummary"]})
    return state


class World:
    """Snapshots of everything outside the repository that a command could write."""

    def __init__(self, environment: Mapping[str, str], sandbox_dir: Path) -> None:
        import boto3

        self.endpoint = environment["AWS_ENDPOINT_URL"]
        self.storage = sandbox_dir / "registry" / "storage"
        # Its own settings: a case may set the environment's to something broken.
        self.ecr = boto3.client("ecr", region_name=environment["AWS_REGION"],
                                endpoint_url=self.endpoint,
                                aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"])

        self.last_whole: dict | None = None  # moto's state after the last class of cases

    @staticmethod
    def folder(root: Path) -> list:
        """Every entry under `root` (a test's folder: outputs, configs), git's own folder
        aside (the repository's state covers it): type, size and modification time."""
        entries = []
        for folder, folders, files in os.walk(root):
            folders[:] = [name for name in folders if name != ".git"]
            for name in folders + files:
                status = os.lstat(os.path.join(folder, name))
                entries.append((os.path.relpath(os.path.join(folder, name), root),
                                status.st_mode, status.st_size, status.st_mtime_ns))
        return sorted(entries)

    def repositories(self) -> list:
        answer = self.ecr.describe_repositories(maxResults=1000)["repositories"]
        return sorted((r["repositoryName"], r["imageTagMutability"],
                       json.dumps(r.get("imageScanningConfiguration"))) for r in answer)

    def cheap(self) -> tuple:
        """Taken around every case: the registry's storage and ECR's repositories."""
        return storage_tree(self.storage), self.repositories()

    def whole(self) -> dict:
        """Taken around each group of cases: moto's whole state (about 2 s a request)."""
        return moto_state(self.endpoint)


def run_case(item: Case, repo, shipyard, tmp_path: Path, world: World, places: dict) -> None:
    """Write the case's files, run it, and check the refusal and that nothing changed."""
    places = {**places, "tmp": str(tmp_path), "project": str(repo.project)}
    write_files(repo.project, {fill(name, places): fill(content, places)
                               if isinstance(content, str) else content
                               for name, content in item.files.items()})
    undo = item.setup(repo, tmp_path) if item.setup else None
    try:
        args = [fill(arg, places) for arg in item.args]
        env = {name: fill(value, places) for name, value in item.env.items()}
        before = (repo.state(), world.folder(tmp_path), world.cheap())
        if item.project:
            result = shipyard(None, "-C", fill(item.project, places), *args, env=env)
        else:
            result = shipyard(repo, *args, env=env)
        words = tuple(fill(word, {**places, "tmp": "{tmp}"}) for word in item.words)
        assert_refused(result, item.code, words, secret=item.secret, tmp=str(tmp_path),
                       other_lines=item.other_lines and fill(item.other_lines, places))
        assert result.out == ""
        assert (repo.state(), world.folder(tmp_path), world.cheap()) == before
    finally:
        if undo:
            undo()


def moto_unchanged_around(world: World):
    """A class fixture's body: moto's whole state is the same after the class's cases as
    before them (the state after one class is the next one's "before")."""
    before = world.last_whole or world.whole()
    yield
    world.last_whole = world.whole()
    assert world.last_whole == before, "a case of this class changed moto's state"
