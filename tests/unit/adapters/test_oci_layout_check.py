"""A layout's check in the background: its verdict awaited, or stopped unneeded."""

from __future__ import annotations

import threading

import pytest

from shipyard.adapters.oci_layout import OciLayout
from shipyard.errors import UsageError
from shipyard_testing.oci_layouts import write_oci_layout


def _layout(tmp_path) -> OciLayout:
    return OciLayout.open(write_oci_layout(tmp_path / "layout", ("linux/amd64",),
                                           layers=(64 << 10, 96 << 10)))


def test_the_background_check_passes_a_whole_layout(tmp_path) -> None:
    _layout(tmp_path).start_verify().result()


def test_the_background_check_raises_for_a_corrupt_blob_in_the_caller(tmp_path) -> None:
    layout = _layout(tmp_path)
    blob = max((layout.path / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    blob.write_bytes(bytes(b ^ 1 for b in blob.read_bytes()))
    check = layout.start_verify()
    with pytest.raises(UsageError, match=f"blob sha256:{blob.name} .* is corrupt"):
        check.result()


def test_a_stopped_check_ends_without_reading_on(tmp_path, monkeypatch) -> None:
    layout = _layout(tmp_path)
    stop = threading.Event()
    stop.set()
    read: list[str] = []
    original = OciLayout.iter_blob

    def counting(self, blob, *args):
        for chunk in original(self, blob, *args):
            read.append(blob.digest)
            yield chunk

    monkeypatch.setattr(OciLayout, "iter_blob", counting)
    layout.verify(stop)
    # one chunk of each blob at most: then the stop is seen
    assert 0 < len(read) <= len(list(layout.blobs()))
