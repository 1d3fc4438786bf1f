"""Applying OCI layer tars to a rootfs folder: whiteouts, safe paths, modes and ownership.

A layer is untrusted input: every entry's path is resolved inside the rootfs as the container
would see it (symlinks followed, an absolute target meaning the rootfs's root), and an entry
that would land outside the rootfs (`..`, an absolute name, a symlink leading out) refuses the
whole layer. Whiteouts follow the image spec: `.wh.NAME` deletes NAME from the lower layers,
`.wh..wh..opq` empties its folder of the lower layers' entries; an entry of the same layer is
never hidden by them.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_SYMLINK_HOPS = 40  # as the kernel's path walk (ELOOP)
_CHUNK = 1 << 20


class LayerError(ValueError):
    """A layer that cannot be applied safely: its message names the entry."""


def entry_parts(name: str) -> list[str]:
    """A tar entry's path as components relative to the rootfs; refuses an absolute name or
    a `..` component (no rewriting: a layer that tries either is not trusted at all)."""
    if name.startswith("/"):
        raise LayerError(f"layer entry {name!r} has an absolute path")
    parts = [part for part in PurePosixPath(name).parts if part not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"layer entry {name!r} climbs out with '..'")
    return parts


def resolve_inside(root: Path, parts: list[str], name: str) -> Path:
    """The real folder `parts` names inside `root`, following symlinks as they resolve in the
    container (an absolute target starts at `root`). A walk that leaves `root` is refused."""
    resolved: list[str] = []
    pending = list(parts)
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise LayerError(f"layer entry {name!r} leads out of the rootfs through a "
                                 "symlink")
            resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise LayerError(f"layer entry {name!r}: too many symlinks in its path")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


def apply_layer(root: Path, tar_stream: IO[bytes]) -> None:
    """Apply one uncompressed layer tar, read as a stream, to the rootfs `root`."""
    written: set[Path] = set()  # this layer's own entries, which its whiteouts never hide
    folder_times: list[tuple[Path, float]] = []
    try:
        with tarfile.open(fileobj=tar_stream, mode="r|") as tar:
            for member in tar:
                _apply_entry(root, tar, member, written, folder_times)
    except tarfile.TarError as error:
        raise LayerError(f"layer is not a readable tar: {error}") from error
    # A folder's mtime changes as entries land in it; set them once its entries are written.
    for path, mtime in reversed(folder_times):
        os.utime(path, (mtime, mtime), follow_symlinks=False)


def _apply_entry(root: Path, tar: tarfile.TarFile, member: tarfile.TarInfo,
                 written: set[Path], folder_times: list[tuple[Path, float]]) -> None:
    parts = entry_parts(member.name)
    if not parts:
        return  # the layer's own root folder entry: the rootfs's root stays as it is
    parent = resolve_inside(root, parts[:-1], member.name)
    base = parts[-1]
    if base == OPAQUE:
        if parent.is_dir():
            for child in list(parent.iterdir()):
                if child not in written:
                    _remove(child)
        return
    if base.startswith(WHITEOUT):
        name = base.removeprefix(WHITEOUT)
        if name in ("", ".", ".."):
            # ".wh.." would name the folder itself, ".wh..." its parent: out of the layer's
            # reach, and out of the rootfs at its top.
            raise LayerError(f"layer entry {member.name!r} is a whiteout of no entry")
        hidden = parent / name
        if hidden not in written and (hidden.exists() or hidden.is_symlink()):
            _remove(hidden)
        return
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / base
    if not (member.isdir() and path.is_dir() and not path.is_symlink()) and (
            path.exists() or path.is_symlink()):
        _remove(path)
    if member.isdir():
        path.mkdir(exist_ok=True)
        folder_times.append((path, member.mtime))
    elif member.isreg():
        source = tar.extractfile(member)
        assert source is not None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
    elif member.issym():
        os.symlink(member.linkname, path)
    elif member.islnk():
        target_parts = entry_parts(member.linkname)
        target = resolve_inside(root, target_parts[:-1], member.linkname) / target_parts[-1]
        if target.is_dir() or not (target.exists() or target.is_symlink()):
            raise LayerError(f"layer entry {member.name!r} is a hard link to "
                             f"{member.linkname!r}, which is not a file of the rootfs")
        os.link(target, path, follow_symlinks=False)
        written.add(path)
        return  # a hard link shares its target's mode, owner and times
    elif member.isfifo():
        os.mkfifo(path)
    elif member.ischr() or member.isblk():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
    else:
        raise LayerError(f"layer entry {member.name!r} has an unknown type {member.type!r}")
    written.add(path)
    _set_metadata(path, member)


def _set_metadata(path: Path, member: tarfile.TarInfo) -> None:
    if os.geteuid() == 0:
        os.lchown(path, member.uid, member.gid)
    if not member.issym():
        # After chown: changing the owner clears set-user-ID and set-group-ID bits.
        os.chmod(path, member.mode & 0o7777)
        if not member.isdir():
            os.utime(path, (member.mtime, member.mtime))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
