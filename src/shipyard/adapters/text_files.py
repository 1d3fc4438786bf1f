"""Small text files a person writes (version.txt, shipyard.toml), read defensively.

Whatever is not a small UTF-8 text file is named for what it is (a folder, a FIFO, UTF-16,
binary, too large) so the fix is plain; "cannot be read" or "fix the syntax" would mislead. A
leading UTF-8 byte-order mark, which some Windows editors write, is accepted and dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.errors import ShipyardError

# Longest first: a UTF-32 little-endian mark starts with the UTF-16 one.
_WIDE_MARKS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
               (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


_CONTROL_BYTES = frozenset([*range(32), 127]) - {ord("\t"), ord("\r"), ord("\n")}


def read_user_text(path: Path, *, limit: int, error: type[ShipyardError], fix: str) -> str:
    """The text of `path` (at most `limit` bytes), or `error` saying what the file is instead
    and `fix`, the one thing the file must be (such as "write 1.0.0 in it as UTF-8 text")."""
    if path.is_symlink() and not path.exists():
        raise error(f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                    f"point it at the file or replace it ({fix})")
    if path.is_dir():
        raise error(f"{path} is a folder, not a file; {fix}")
    if not path.is_file():  # a FIFO would block the read, a device might never end
        raise error(f"{path} is not a regular file (a FIFO, socket or device); {fix}")
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        how = "fix its permissions" if isinstance(exc, PermissionError) else fix
        raise error(f"{path} cannot be read ({exc.strerror}); {how}") from exc
    wide = next((name for mark, name in _WIDE_MARKS if data.startswith(mark)), None)
    if wide is None and len(data) >= 2 and (not any(data[0::2]) or not any(data[1::2])):
        wide = "UTF-16"  # ASCII text saved as UTF-16 without a mark: every other byte is 0
    if wide:
        raise error(f"{path} is {wide} text, not UTF-8; save it as UTF-8 ({fix})")
    if len(data) > limit:
        raise error(f"{path} is larger than {limit} bytes, too large for what it holds; {fix}")
    # Control bytes mean binary; text in another encoding (Latin-1) has none, only bad UTF-8.
    if not _CONTROL_BYTES.isdisjoint(data):
        raise error(f"{path} is not a text file (binary content); {fix}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 (byte {exc.start} is not; another encoding such as "
                    f"Latin-1?); save it as UTF-8 ({fix})") from exc
