"""Files of an image's root filesystem, read from its layers as a container runtime stacks them.

Layers are tar archives (gzip-compressed or not) applied in order: a later layer's file
replaces an earlier one's, a whiteout `.wh.NAME` deletes NAME (and what is below it) from
the layers beneath, and an opaque marker `.wh..wh..opq` empties its folder beneath. Only the
files `wanted` selects are kept, each at most `MAX_FILE_BYTES`; a symlink among them is
followed within the image (Debian's `etc/os-release` points at `usr/lib/os-release`).
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Callable, Iterable
from typing import IO

from shipyard.errors import UsageError

MAX_FILE_BYTES = 32 * 1024 * 1024  # a dpkg status file of a large image is a few MiB
_WHITEOUT, _OPAQUE = ".wh.", ".wh..wh..opq"


def root_files(layers: Iterable[tuple[str, Callable[[], IO[bytes]]]],
               wanted: Callable[[str], bool]) -> dict[str, bytes]:
    """The wanted files of the stacked layers (path without a leading slash -> bytes).

    `layers` are (digest, open) in order, bottom first; `open` gives the layer's bytes.
    """
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    for digest, open_layer in layers:
        with open_layer() as stream:
            layer = _Layer()
            try:
                with tarfile.open(fileobj=stream, mode="r|*") as archive:
                    layer.read(archive, wanted)
            except tarfile.ReadError as exc:
                raise UsageError(f"layer {digest} is not a tar archive (gzip or plain) "
                                 f"({exc}); zstd-compressed layers are not read: build "
                                 "with gzip compression") from None
        # A layer's whiteouts hide what the layers beneath it hold, never its own files.
        for table in (files, links):
            for path in [p for p in table if _hidden(p, layer.removed, layer.opaque)]:
                del table[path]
        for path in layer.files:
            links.pop(path, None)
        for path in layer.links:
            files.pop(path, None)
        files.update(layer.files)
        links.update(layer.links)
    for path, target in links.items():
        if target in files:
            files.setdefault(path, files[target])
    return files


class _Layer:
    """What one layer adds (wanted files and symlinks) and hides (whiteouts)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self.removed: list[str] = []
        self.opaque: list[str] = []

    def read(self, archive: tarfile.TarFile, wanted: Callable[[str], bool]) -> None:
        for member in archive:
            path = _normal(member.name)
            folder, name = posixpath.split(path)
            if name == _OPAQUE:
                self.opaque.append(folder)
            elif name.startswith(_WHITEOUT):
                self.removed.append(posixpath.join(folder, name[len(_WHITEOUT):]))
            elif not wanted(path):
                continue
            elif member.isfile() and member.size <= MAX_FILE_BYTES:
                extracted = archive.extractfile(member)
                if extracted is not None:
                    self.files[path] = extracted.read()
            elif member.issym():
                target = member.linkname
                self.links[path] = _normal(target if target.startswith("/")
                                           else posixpath.join(folder, target))


def _hidden(path: str, removed: list[str], opaque: list[str]) -> bool:
    return (any(path == gone or path.startswith(gone + "/") for gone in removed)
            or any(folder == "" or path.startswith(folder + "/") for folder in opaque))


def _normal(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")
