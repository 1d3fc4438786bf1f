"""Files written atomically: a temporary file beside the target, then a rename.

Readers never see half a file, and a failure before the rename leaves the old one untouched:
that is how commands keep their promise to change nothing when they fail.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def stage_file(path: Path, text: str, mode: int | None = None) -> Path:
    """Write `text` to a temporary file beside `path`, ready for `os.replace(staged, path)`.

    The mode is `mode`, else the existing file's, else 0644.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(name, mode)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def write_atomically(path: Path, text: str, mode: int | None = None) -> None:
    """Replace `path` with `text` in one step."""
    staged = stage_file(path, text, mode)
    try:
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
