"""Tiny web-service images for deploy tests and benchmarks: the host's static busybox serving
`/health` and `/version` with `httpd`, built as OCI layouts in milliseconds (no builder).

`web_image(folder, version, kind)` writes a one-image layout whose config carries the version
in the OCI label `org.opencontainers.image.version`, as `shipyard push` labels images:

- "good": serves `/health` ("ok") and `/version` (`{"version": "<version>"}`) on port 8080;
- "exits": prints a line and exits 3 at start (ECS: "Essential container in task exited");
- "unhealthy": says so in a line on stderr, then serves `/version` but not `/health`, so
  container and target health checks fail while the process keeps running.

The busybox layer is the same in every image, so a registry stores it once.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from functools import cache
from pathlib import Path

from shipyard_testing.oci_layouts import (
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    REF_NAME,
    platform_json,
    put_blob,
    sha256,
)

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "httpd", "sleep", "cat", "echo", "wget", "env", "true", "false", "test")
PORT = 8080
COMMANDS = {
    "good": f"exec httpd -f -p {PORT} -h /www",
    "unhealthy": "echo 'gamepulse: started without its /health endpoint' >&2; "
                 f"exec httpd -f -p {PORT} -h /www",
    "exits": "echo 'gamepulse: cannot start: DATABASE_URL is not set' >&2; exit 3",
}
VERSION_LABEL = "org.opencontainers.image.version"


def _tar_entry(tar: tarfile.TarFile, name: str, *, data: bytes | None = None,
               mode: int = 0o644, kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, 1_700_000_000, link
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _layer(entries: list[tuple[str, dict]]) -> tuple[bytes, str]:
    """A gzipped layer of `entries` (name, _tar_entry options); (blob, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, options in entries:
            _tar_entry(tar, name, **options)
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0), sha256(raw.getvalue())


@cache
def _busybox_layer() -> tuple[bytes, str]:
    entries: list[tuple[str, dict]] = [
        (folder, {"kind": tarfile.DIRTYPE, "mode": 0o755}) for folder in ("bin", "etc", "www")]
    entries.append(("tmp", {"kind": tarfile.DIRTYPE, "mode": 0o1777}))
    entries.append(("bin/busybox", {"data": BUSYBOX.read_bytes(), "mode": 0o755}))
    entries += [(f"bin/{applet}", {"kind": tarfile.SYMTYPE, "link": "busybox", "mode": 0o777})
                for applet in APPLETS]
    entries.append(("etc/passwd", {"data": b"root:x:0:0:root:/root:/bin/sh\n"}))
    return _layer(entries)


def _site_layer(version: str, kind: str) -> tuple[bytes, str]:
    files = {"www/version": json.dumps({"version": version}).encode()}
    if kind != "unhealthy":
        files["www/health"] = b"ok\n"
    return _layer([(name, {"data": data}) for name, data in files.items()])


def web_image(folder: Path, version: str, kind: str = "good",
              platform: str = "linux/amd64") -> Path:
    """Write a one-image OCI layout of the web service at `version` into `folder`."""
    if kind not in COMMANDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(COMMANDS)}")
    folder.mkdir(parents=True, exist_ok=True)
    layers = [_busybox_layer(), _site_layer(version, kind)]
    descriptors = [{"mediaType": OCI_LAYER_GZIP, **put_blob(folder, blob)}
                   for blob, _ in layers]
    config = {**platform_json(platform), "created": "2026-03-04T05:06:07Z",
              "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": [COMMANDS[kind]],
                         "Env": ["PATH=/bin"], "ExposedPorts": {f"{PORT}/tcp": {}},
                         "Labels": {VERSION_LABEL: version}},
              "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]}}
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG,
                           **put_blob(folder, json.dumps(config).encode())},
                "layers": descriptors}
    top = {"mediaType": OCI_MANIFEST, **put_blob(folder, json.dumps(manifest).encode()),
           "annotations": {REF_NAME: version}}
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (folder / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return folder
