"""OCI image layouts broken in one way each, for the bad-input corpus.

`build(root)` writes them all once (small opaque layers, so it takes milliseconds) and returns
name -> path. Each starts as a good single-image layout (`write_oci_layout`) and has one
thing wrong; "good" and "two" (linux/amd64 + linux/arm64) are left as they are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from shipyard_testing.oci_layouts import put_blob, sha256, write_oci_layout


def blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.removeprefix("sha256:")


def _index(layout: Path) -> dict:
    return json.loads((layout / "index.json").read_text())


def _manifest(layout: Path) -> dict:
    return json.loads(blob(layout, _index(layout)["manifests"][0]["digest"]).read_text())


def _set_entry(layout: Path, **fields: object) -> None:
    """Change the index.json entry of the layout's image."""
    index = _index(layout)
    index["manifests"][0].update(fields)
    (layout / "index.json").write_text(json.dumps(index))


def _replace_manifest(layout: Path, data: bytes) -> None:
    """Store `data` as the image's manifest (a true digest and size), dropping the old one."""
    blob(layout, _index(layout)["manifests"][0]["digest"]).unlink()
    _set_entry(layout, **put_blob(layout, data))


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _link_out(path: Path) -> None:
    """The blob becomes a symlink to a copy of itself outside the layout: right content,
    wrong place."""
    outside = path.parent.parent.parent.parent / f"outside-{path.name[:12]}"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)


def _config(layout: Path) -> Path:
    return blob(layout, _manifest(layout)["config"]["digest"])


def _last_layer(layout: Path) -> Path:
    return blob(layout, _manifest(layout)["layers"][-1]["digest"])


def _other_content(path: Path) -> None:
    data = path.read_bytes().replace(b"amd64", b"arm64")  # the config: same size
    path.write_bytes(data)


BREAKS: dict[str, Callable[[Path], None]] = {
    "no-index": lambda d: (d / "index.json").unlink(),
    "index-bad-json": lambda d: (d / "index.json").write_text('{"schemaVersion": 2, "manif'),
    "index-array": lambda d: (d / "index.json").write_text("[]"),
    "index-no-manifests": lambda d: (d / "index.json").write_text(
        '{"schemaVersion": 2, "manifests": []}'),
    "index-nested-deep": lambda d: (d / "index.json").write_text("[" * 100_000 + "]" * 100_000),
    "index-binary": lambda d: (d / "index.json").write_bytes(b"\xff\xfe\x00\x01binary"),
    "no-oci-layout-file": lambda d: (d / "oci-layout").unlink(),
    "layout-version-2": lambda d: (d / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}'),
    "layer-missing": lambda d: _last_layer(d).unlink(),
    "layer-short": lambda d: _last_layer(d).write_bytes(_last_layer(d).read_bytes()[:-1]),
    "layer-long": lambda d: _last_layer(d).write_bytes(_last_layer(d).read_bytes() + b"\0"),
    "config-other-content": lambda d: _other_content(_config(d)),
    "config-missing": lambda d: _config(d).unlink(),
    "config-fifo": lambda d: _fifo(_config(d)),
    "manifest-fifo": lambda d: _fifo(blob(d, _index(d)["manifests"][0]["digest"])),
    "config-symlink-out": lambda d: _link_out(_config(d)),
    "layer-folder": lambda d: (_last_layer(d).unlink(), _last_layer(d).mkdir()),
    "manifest-bad-json": lambda d: _replace_manifest(d, b'{"schemaVersion": 2, "lay'),
    "manifest-array": lambda d: _replace_manifest(d, b"[1, 2]"),
    "manifest-nested-deep": lambda d: _replace_manifest(d, b'{"a": ' + b"[" * 50_000
                                                         + b"]" * 50_000 + b"}"),
    "manifest-unknown-media-type": lambda d: _set_entry(
        d, mediaType="application/vnd.example.thing+json"),
    "digest-traversal": lambda d: _set_entry(d, digest="sha256:../../../../../etc/hostname"),
    "digest-md5": lambda d: _set_entry(d, digest="md5:d41d8cd98f00b204e9800998ecf8427e"),
    "digest-short": lambda d: _set_entry(d, digest=sha256(b"")[:20]),
    "size-negative": lambda d: _set_entry(d, size=-1),
    "size-string": lambda d: _set_entry(d, size="303"),
}


def build(root: Path) -> dict[str, Path]:
    made = {}
    for name, platforms in (("good", ("linux/amd64",)), ("two", ("linux/amd64", "linux/arm64"))):
        made[name] = write_oci_layout(root / name, platforms, layers=(512,), base=256,
                                      opaque=True)
    for name, damage in BREAKS.items():
        made[name] = write_oci_layout(root / name, layers=(512,), base=256, opaque=True)
        damage(made[name])
    made["a-file"] = root / "good" / "oci-layout"
    made["missing"] = root / "no-such-layout"
    return made
