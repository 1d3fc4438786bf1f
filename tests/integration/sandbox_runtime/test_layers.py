"""Layer tars applied to a rootfs: whiteouts as the image spec says, and no way out of it.

Hand-made tars on a temporary rootfs; no registry. (Ownership is only kept when run as root,
as the runtime is.)
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from shipyard_sandbox.runtime.layers import LayerError, apply_layer

DIR, SYM, LNK = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    root.mkdir()
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the rootfs that no layer may touch."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret").write_text("host file")
    return folder


def test_whiteouts_delete_lower_entries_but_never_their_own_layer(rootfs, tar_of) -> None:
    apply_layer(rootfs, tar_of(("etc", {"kind": DIR, "mode": 0o755}),
                               ("etc/motd", {"data": b"lower"}),
                               ("etc/keep", {"data": b"lower"}),
                               ("opt", {"kind": DIR, "mode": 0o755}),
                               ("opt/a", {"data": b"lower"}),
                               ("opt/sub", {"kind": DIR, "mode": 0o755}),
                               ("opt/sub/b", {"data": b"lower"})))
    apply_layer(rootfs, tar_of(("etc/.wh.motd", {}),
                               ("etc/new", {"data": b"upper"}),
                               ("etc/.wh.new", {}),  # same layer: does not hide it
                               ("opt", {"kind": DIR, "mode": 0o755}),
                               ("opt/.wh..wh..opq", {}),
                               ("opt/c", {"data": b"upper"})))
    assert not (rootfs / "etc/motd").exists()
    assert (rootfs / "etc/keep").read_text() == "lower"
    assert (rootfs / "etc/new").read_text() == "upper"
    assert sorted(p.name for p in (rootfs / "opt").iterdir()) == ["c"]
    assert not any(p.name.startswith(".wh.") for p in rootfs.rglob("*"))


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "/etc/absolute"])
def test_names_that_climb_out_or_are_absolute_are_refused(rootfs, outside, tar_of,
                                                          name) -> None:
    with pytest.raises(LayerError, match=r"absolute|climbs out"):
        apply_layer(rootfs, tar_of((name, {"data": b"x"})))
    assert sorted(p.name for p in outside.parent.iterdir()) == ["outside", "rootfs"]
    assert not (Path("/etc/absolute")).exists()


@pytest.mark.parametrize("name", [".wh..", ".wh...", "etc/.wh...", "etc/.wh."])
def test_a_whiteout_of_a_folder_itself_or_its_parent_is_refused(rootfs, outside, tar_of,
                                                                name) -> None:
    apply_layer(rootfs, tar_of(("etc", {"kind": DIR, "mode": 0o755}),
                               ("etc/passwd", {"data": b"root"})))
    with pytest.raises(LayerError, match="whiteout of no entry"):
        apply_layer(rootfs, tar_of((name, {})))
    assert (rootfs / "etc/passwd").exists() and (outside / "secret").exists()


def test_a_symlink_leading_out_cannot_be_written_through(rootfs, outside, tar_of) -> None:
    apply_layer(rootfs, tar_of(("up", {"kind": SYM, "link": "../outside"}),
                               ("deep", {"kind": DIR, "mode": 0o755}),
                               ("deep/up", {"kind": SYM, "link": "../../../outside"})))
    for name in ("up/secret", "deep/up/planted"):
        with pytest.raises(LayerError, match="symlink"):
            apply_layer(rootfs, tar_of((name, {"data": b"overwritten"})))
    assert (outside / "secret").read_text() == "host file"
    assert [p.name for p in outside.iterdir()] == ["secret"]


def test_an_absolute_symlink_resolves_inside_the_rootfs(rootfs, tar_of) -> None:
    apply_layer(rootfs, tar_of(("etc", {"kind": DIR, "mode": 0o755}),
                               ("link", {"kind": SYM, "link": "/etc"})))
    apply_layer(rootfs, tar_of(("link/written", {"data": b"inside"})))
    assert (rootfs / "etc/written").read_text() == "inside"


def test_a_file_replaces_a_symlink_instead_of_writing_through_it(rootfs, outside,
                                                                 tar_of) -> None:
    apply_layer(rootfs, tar_of(("secret", {"kind": SYM, "link": str(outside / "secret")})))
    apply_layer(rootfs, tar_of(("secret", {"data": b"image file"})))
    assert not (rootfs / "secret").is_symlink()
    assert (rootfs / "secret").read_text() == "image file"
    assert (outside / "secret").read_text() == "host file"


def test_a_hard_link_to_outside_is_refused(rootfs, tar_of) -> None:
    with pytest.raises(LayerError):
        apply_layer(rootfs, tar_of(("stolen", {"kind": LNK, "link": "../outside/secret"})))
    apply_layer(rootfs, tar_of(("a", {"data": b"same"}), ("b", {"kind": LNK, "link": "a"})))
    assert os.path.samefile(rootfs / "a", rootfs / "b")


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership is only kept when run as root")
def test_modes_and_owners_are_kept_set_id_bits_included(rootfs, tar_of) -> None:
    apply_layer(rootfs, tar_of(("srv", {"kind": DIR, "mode": 0o2750, "uid": 33, "gid": 44}),
                               ("srv/tool", {"data": b"#!", "mode": 0o4755, "uid": 33,
                                             "gid": 44})))
    for name, mode in (("srv", 0o2750), ("srv/tool", 0o4755)):
        info = (rootfs / name).stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (33, 44, mode)
