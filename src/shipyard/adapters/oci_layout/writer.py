"""Put new image manifests into a layout in place of old ones.

The new manifest blobs are written first, then an image index naming them (when the
top-level manifest is one), and last `index.json`, replaced in one rename: a reader sees the
old image or the new one, never half of each. Old manifest blobs stay (a layout may hold
blobs nothing refers to). Every other field of the index entries is kept as it was: platform,
annotations (the `ref.name` tag), artifact type. `annotations` are added to the entries of
`index.json` only, which is never pushed: they do not change the image's digest.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from shipyard.adapters.oci_layout.descriptor import sha256_digest
from shipyard.adapters.oci_layout.layout import OciLayout


def replace_manifests(layout: OciLayout, new_manifests: Mapping[str, bytes],
                      annotations: Mapping[str, str] | None = None) -> None:
    """Swap image manifests of `layout` (old digest -> new bytes) and re-point its index and
    `index.json` at them; the re-pointed `index.json` entries get `annotations`. Same inputs,
    same bytes: the new index is written compactly, in the key order of the old one."""
    moved = {old: _put_blob(layout.path, content) for old, content in new_manifests.items()}
    index_json = layout.path / "index.json"
    entries = json.loads(index_json.read_bytes())
    names_top = any(entry.get("digest") == layout.top.digest for entry in entries["manifests"])
    if layout.is_index and names_top:
        index = json.loads(layout.top_content)
        if _repoint(index["manifests"], moved):
            moved[layout.top.digest] = _put_blob(
                layout.path, json.dumps(index, separators=(",", ":")).encode())
    # Without an index blob (an older buildx lists each platform's manifest in index.json),
    # the entries of index.json are the ones to re-point.
    if _repoint(entries["manifests"], moved, annotations or {}):
        _write_atomically(index_json, json.dumps(entries, separators=(",", ":")).encode())


def restore_index(layout: Path, index_json: bytes) -> None:
    """Put back an `index.json` read before `replace_manifests` (its manifests are still in
    the layout: old blobs are never removed), so the layout names the image as built."""
    _write_atomically(layout / "index.json", index_json)


def _repoint(entries: list[MutableMapping[str, Any]], moved: Mapping[str, tuple[str, int]],
             annotations: Mapping[str, str] | None = None) -> bool:
    changed = False
    for entry in entries:
        if entry.get("digest") in moved:
            entry["digest"], entry["size"] = moved[entry["digest"]]
            if annotations:
                entry["annotations"] = {**(entry.get("annotations") or {}), **annotations}
            changed = True
    return changed


def _put_blob(layout: Path, content: bytes) -> tuple[str, int]:
    digest = sha256_digest(content)
    algorithm, _, hex_digest = digest.partition(":")
    path = layout / "blobs" / algorithm / hex_digest
    if not path.exists():
        _write_atomically(path, content)
    return digest, len(content)


def _write_atomically(path: Path, content: bytes) -> None:
    # A crash half-way leaves a stray temporary file, never a truncated blob or index.json.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o644)  # as the layout's other files: mkstemp makes them 0600
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
