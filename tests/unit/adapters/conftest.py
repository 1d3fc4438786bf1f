"""Small OCI image layouts on disk, for the layout reader's and the registry client's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard_testing.oci_layouts import put_blob, write_oci_layout


class LayoutBuilder:
    """`build_layout(root, platforms=("linux/amd64",), layer_sizes=(300, 500))` writes a
    layout (`write_oci_layout`) whose layers are random bytes of exactly those sizes after a
    200-byte base layer shared by every platform; several platforms make an image index.
    `build_layout.blob(root, data)` adds one blob and returns its descriptor fields.
    """

    blob = staticmethod(put_blob)

    def __call__(self, root: Path, platforms: tuple[str, ...] = ("linux/amd64",), *,
                 layer_sizes: tuple[int, ...] = (300, 500)) -> Path:
        return write_oci_layout(root, platforms, base=200, layers=layer_sizes, opaque=True,
                                ref_name=None)


@pytest.fixture
def build_layout() -> LayoutBuilder:
    return LayoutBuilder()
