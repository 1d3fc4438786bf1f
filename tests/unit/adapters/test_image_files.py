"""Stacking an image's layers as a runtime does: later files win, whiteouts and opaque
folders hide what is beneath, symlinks are followed within the image."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from shipyard.adapters.image_files import root_files
from shipyard.errors import UsageError


def layer(*entries: tuple[str, bytes | str], compress: bool = True) -> bytes:
    """A tar of entries: (name, bytes) is a file, (name, "->target") a symlink."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content.removeprefix("->")
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue()) if compress else raw.getvalue()


def stack(*layers: bytes, wanted=lambda path: path.endswith((".txt", "os-release"))):
    return root_files(((f"sha256:{n}", lambda data=data: io.BytesIO(data))
                       for n, data in enumerate(layers)), wanted)


def test_later_layers_replace_files_and_unwanted_files_are_skipped() -> None:
    files = stack(layer(("./a.txt", b"1"), ("b.bin", b"x"), ("/etc/c.txt", b"c")),
                  layer(("a.txt", b"2"), compress=False))
    assert files == {"a.txt": b"2", "etc/c.txt": b"c"}


def test_whiteouts_and_opaque_folders_hide_only_what_is_beneath() -> None:
    files = stack(layer(("keep/a.txt", b"a"), ("gone/b.txt", b"b"), ("opq/c.txt", b"c"),
                        ("opq/sub/d.txt", b"d")),
                  layer(("gone/.wh.b.txt", b""), ("opq/.wh..wh..opq", b""),
                        ("opq/new.txt", b"n")))
    assert files == {"keep/a.txt": b"a", "opq/new.txt": b"n"}


def test_a_whiteout_of_a_folder_hides_everything_in_it() -> None:
    files = stack(layer(("dir/x.txt", b"x"), ("dir/y/z.txt", b"z")), layer((".wh.dir", b"")))
    assert files == {}


def test_a_symlink_is_followed_within_the_image() -> None:
    files = stack(layer(("usr/lib/os-release", b"ID=debian\n"),
                        ("etc/os-release", "->../usr/lib/os-release")))
    assert files["etc/os-release"] == b"ID=debian\n"


def test_a_layer_that_is_not_a_tar_is_refused_naming_it() -> None:
    with pytest.raises(UsageError, match="layer sha256:0 is not a tar archive"):
        stack(b"\x28\xb5\x2f\xfd" + b"zstd frame")
