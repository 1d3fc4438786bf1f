#!/usr/bin/env python3
"""Turn root filesystem directories into one multi-platform OCI image layout.

Used by build-base-image.sh. Each ``--platform OS/ARCH[/VARIANT]=DIR`` becomes a single-layer
image; the images go into one image index, and the layout's ``index.json`` names that index
with ``org.opencontainers.image.ref.name`` (``--tag``), so ``oci:DIR:TAG`` and ``oci:DIR``
both address the multi-platform image (skopeo, buildah, crane all read it).

Only the Python standard library is used, so it runs on any build host. Output is
reproducible: files are added in sorted order, modification times are clamped to
``--epoch`` (SOURCE_DATE_EPOCH), owners are numeric, gzip headers carry no name or time, and
JSON is written with sorted keys. Two runs over the same trees give the same digests.

Why not buildah? ``buildah from scratch`` + ``add`` + ``commit`` + ``manifest push --all``
works too, but copies each tree twice into containers storage (vfs) and stamps the current
time into the config unless told otherwise; writing the layout directly is faster and simpler
to make reproducible.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import shutil
import stat
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None
    rootfs: Path

    @property
    def name(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def as_json(self) -> dict:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out


def parse_platform(text: str) -> Platform:
    spec, sep, path = text.partition("=")
    parts = spec.split("/")
    if not sep or not path or len(parts) not in (2, 3) or not all(parts):
        raise argparse.ArgumentTypeError(
            f"bad --platform {text!r}: expected OS/ARCH[/VARIANT]=ROOTFS_DIR, "
            "e.g. linux/arm64/v8=/tmp/rootfs-arm64"
        )
    rootfs = Path(path)
    if not rootfs.is_dir():
        raise argparse.ArgumentTypeError(f"bad --platform {text!r}: {path} is not a directory")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None, rootfs)


class _HashingWriter:
    """A write-only file that hashes what passes through and forwards it."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        if self.sink is not None:
            self.sink.write(data)
        return len(data)

    def flush(self) -> None:
        if self.sink is not None:
            self.sink.flush()


def _walk_dir(rel: bytes, absolute: str | bytes):
    with os.scandir(absolute) as it:
        entries = sorted(it, key=lambda e: os.fsencode(e.name))
    for entry in entries:
        name = os.fsencode(entry.name)
        child_rel = rel + b"/" + name if rel else name
        yield os.fsdecode(child_rel), entry.path
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_dir(child_rel, entry.path)


def iter_tree(root: Path):
    """Yield (relative path, absolute path) for every entry below root, depth-first, sorted
    by the bytes of each name, so the order never depends on the filesystem or the locale."""
    yield from _walk_dir(b"", os.fspath(root))


def _tarinfo(rel: str, path: str, st: os.stat_result, epoch: int) -> tarfile.TarInfo | None:
    info = tarfile.TarInfo(rel)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = min(int(st.st_mtime), epoch)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:  # sockets cannot be stored in a tar
        return None
    return info


def add_tree(tar: tarfile.TarFile, rootfs: Path, epoch: int) -> None:
    """Add every entry below rootfs (not rootfs itself), keeping hard links as links."""
    first_link: dict[tuple[int, int], str] = {}
    for rel, path in iter_tree(rootfs):
        st = os.lstat(path)
        info = _tarinfo(rel, path, st, epoch)
        if info is None:
            continue
        if info.type == tarfile.REGTYPE and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in first_link:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, first_link[key], 0
                tar.addfile(info)
                continue
            first_link[key] = rel
        if info.type == tarfile.REGTYPE:
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
        else:
            tar.addfile(info)


def write_layer(rootfs: Path, epoch: int, blob_dir: Path, level: int) -> tuple[str, str, int]:
    """Tar + gzip a tree into blob_dir. Returns (diff_id, digest, compressed size)."""
    fd, tmp_name = tempfile.mkstemp(dir=blob_dir, prefix=".layer-")
    try:
        with os.fdopen(fd, "wb") as tmp:
            compressed = _HashingWriter(tmp)
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=compressed, compresslevel=level, mtime=0
            ) as gz:
                plain = _HashingWriter(gz)
                with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    add_tree(tar, rootfs, epoch)
        digest = compressed.sha.hexdigest()
        os.replace(tmp_name, blob_dir / digest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return "sha256:" + plain.sha.hexdigest(), "sha256:" + digest, compressed.size


def write_blob(blob_dir: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (blob_dir / digest).write_bytes(data)
    return "sha256:" + digest, len(data)


def dumps(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build(args: argparse.Namespace) -> dict:
    out: Path = args.out
    utc = dt.timezone.utc  # noqa: UP017 - dt.UTC needs Python 3.11; build hosts may be older
    created = dt.datetime.fromtimestamp(args.epoch, tz=utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        blob_dir = staging / "blobs" / "sha256"
        blob_dir.mkdir(parents=True)
        with ThreadPoolExecutor(max_workers=len(args.platform)) as pool:
            layers = list(
                pool.map(
                    lambda p: write_layer(p.rootfs, args.epoch, blob_dir, args.level),
                    args.platform,
                )
            )
        labels = dict(args.label)
        labels.setdefault("org.opencontainers.image.created", created)
        entries = []
        summary = []
        for platform, (diff_id, layer_digest, layer_size) in zip(
            args.platform, layers, strict=True
        ):
            config = {
                "created": created,
                "architecture": platform.architecture,
                "os": platform.os,
                "config": {"Env": list(args.env), "Cmd": list(args.cmd), "Labels": labels},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                "history": [{"created": created, "created_by": args.history}],
            }
            if platform.variant:
                config["variant"] = platform.variant
            config_digest, config_size = write_blob(blob_dir, dumps(config))
            manifest = {
                "schemaVersion": 2,
                "mediaType": MEDIA_MANIFEST,
                "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
                "layers": [
                    {"mediaType": MEDIA_LAYER_GZIP, "digest": layer_digest, "size": layer_size}
                ],
                "annotations": {"org.opencontainers.image.created": created},
            }
            manifest_digest, manifest_size = write_blob(blob_dir, dumps(manifest))
            entries.append(
                {
                    "mediaType": MEDIA_MANIFEST,
                    "digest": manifest_digest,
                    "size": manifest_size,
                    "platform": platform.as_json(),
                }
            )
            summary.append(
                {
                    "platform": platform.name,
                    "manifest": manifest_digest,
                    "layer": layer_digest,
                    "layer_size": layer_size,
                    "diff_id": diff_id,
                }
            )
        index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": entries}
        index_digest, index_size = write_blob(blob_dir, dumps(index))
        top = {
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [
                {
                    "mediaType": MEDIA_INDEX,
                    "digest": index_digest,
                    "size": index_size,
                    "annotations": {"org.opencontainers.image.ref.name": args.tag},
                }
            ],
        }
        (staging / "index.json").write_bytes(dumps(top))
        (staging / "oci-layout").write_bytes(dumps({"imageLayoutVersion": "1.0.0"}))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"layout": str(out), "tag": args.tag, "index": index_digest, "images": summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="OCI layout directory to write")
    parser.add_argument(
        "--platform",
        type=parse_platform,
        action="append",
        required=True,
        help="OS/ARCH[/VARIANT]=ROOTFS_DIR; repeat for each platform",
    )
    parser.add_argument(
        "--epoch",
        type=int,
        default=int(os.environ.get("SOURCE_DATE_EPOCH", "0")),
        help="creation time and mtime clamp (default: $SOURCE_DATE_EPOCH or 0)",
    )
    parser.add_argument("--tag", default="latest", help="ref name in index.json (default latest)")
    parser.add_argument("--env", action="append", default=None, help="config Env entry, K=V")
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        type=lambda s: tuple(s.split("=", 1)),
        help="config label, K=V",
    )
    parser.add_argument(
        "--cmd", type=json.loads, default=["/usr/bin/python3"], help="config Cmd as a JSON list"
    )
    parser.add_argument("--history", default="oci_from_rootfs.py", help="history created_by")
    parser.add_argument("--level", type=int, default=6, help="gzip level (default 6)")
    args = parser.parse_args(argv)
    if args.env is None:
        args.env = [DEFAULT_PATH]
    names = [p.name for p in args.platform]
    if len(set(names)) != len(names):
        parser.error(f"each platform may be given once, got {names}")
    for label in args.label:
        if len(label) != 2:
            parser.error(f"bad --label {label[0]!r}: expected K=V")
    args.out = args.out.absolute()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = build(args)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
