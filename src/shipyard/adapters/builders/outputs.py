"""The folder of build outputs (`build.output`): one layout per build, and only the last kept.

Each build writes a fresh folder, `<output>/<version>-<8 hex>`, so that a build never replaces
a layout another command is still pushing. Beside it sits `.<name>.lock`, which the building
process holds (a shared `flock`) until it exits; once a build succeeds, every other build's
folder whose lock nobody holds is removed. Base images are what builds reuse, and those live in
the builder's own cache (buildah's storage), not here. A failed build removes its folder.

Only what is recognisably ours is ever removed: a folder with our lock file, or, from before
lock files, a folder named `<semver>-<8 characters>` that holds an OCI layout or nothing.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import secrets
import shutil
from pathlib import Path

from .layout import LAYOUT_MARKER

# <version>-<suffix>: ours (8 hex) and tempfile.mkdtemp's (8 of [a-z0-9_]) from older releases.
_RUN_FOLDER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?-[a-z0-9_]{8}$")

# Locks this process holds, by folder: released when it exits, or when its build failed.
_HELD: dict[Path, int] = {}


def claim_build_folder(output: Path, version: str) -> Path:
    """A new, empty folder for one build under `output`, locked for this process's lifetime."""
    output.mkdir(parents=True, exist_ok=True)
    while True:
        name = f"{version}-{secrets.token_hex(4)}"
        try:  # the lock first: a folder without a held lock may be pruned by another build
            fd = os.open(_lock_path(output, name), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        except FileExistsError:
            continue
        break
    fcntl.flock(fd, fcntl.LOCK_SH)
    folder = output / name
    folder.mkdir()
    _HELD[folder] = fd
    return folder


def discard_build_folder(folder: Path) -> None:
    """Remove a failed build's folder, its staging leftovers and its lock."""
    fd = _HELD.pop(folder, None)
    try:
        _remove(folder)
    finally:
        if fd is not None:
            os.close(fd)


def prune_build_folders(output: Path, keep: Path) -> list[Path]:
    """Remove every build folder under `output` but `keep` and those whose build still runs;
    returns the folders removed. A folder that cannot be removed is left for the next build."""
    removed = []
    for folder in sorted(_build_folders(output) - {keep}):
        try:
            fd = os.open(_lock_path(output, folder.name), os.O_CREAT | os.O_RDWR, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its build runs
        except OSError:
            os.close(fd)
            continue
        try:
            _remove(folder)
            removed.append(folder)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _build_folders(output: Path) -> set[Path]:
    if not output.is_dir():
        return set()
    found = set()
    for entry in output.iterdir():
        name = entry.name[1:-len(".lock")]
        if entry.name.startswith(".") and entry.name.endswith(".lock") and (
                _RUN_FOLDER.match(name)):
            found.add(output / name)  # ours, whatever it holds
        elif _RUN_FOLDER.match(entry.name) and entry.is_dir() and not entry.is_symlink() and (
                (entry / LAYOUT_MARKER).is_file() or not any(entry.iterdir())):
            found.add(entry)
    return found


def _remove(folder: Path) -> None:
    """The folder, the builders' staging folders beside it (`.<name>.*`), then the lock."""
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    lock = _lock_path(folder.parent, folder.name)
    for staging in folder.parent.glob(f".{glob.escape(folder.name)}.*"):
        if staging != lock and staging.is_dir() and not staging.is_symlink():
            shutil.rmtree(staging)
    lock.unlink(missing_ok=True)


def _lock_path(output: Path, name: str) -> Path:
    return output / f".{name}.lock"

