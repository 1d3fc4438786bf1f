"""benchmarks/.cache: what the benchmark reuses between runs, and nothing else.

Three things are kept: the OCI layout of the shape asked for (`layout-<layers>x<MiB>MiB`,
made once from random data, which takes seconds), Python's byte-code for the timed
processes (`pycache`, so they start as an installed package does), and a virtualenv with the
AWS CLI from PyPI (`aws-cli`, for the route users script today). At every start anything
else is deleted: layouts of other shapes, and byte-code whose source file is gone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
PYCACHE = CACHE / "pycache"
AWS_VENV = CACHE / "aws-cli"
AWS_CLI_REQUIREMENT = "awscli>=1.44,<2"  # v2 is not on PyPI; v1 is the CLI pip installs


def layout_dir(layers: int, layer_mib: int) -> Path:
    return CACHE / f"layout-{layers}x{layer_mib}MiB"


def prune(keep: set[Path]) -> list[tuple[str, int]]:
    """Delete every cache entry not in `keep`, and stale byte-code; (name, bytes) removed."""
    removed = []
    if CACHE.is_dir():
        for entry in sorted(CACHE.iterdir()):
            if entry not in keep:
                removed.append((entry.name, size_of(entry)))
                _remove(entry)
    if PYCACHE in keep:
        stale = _stale_bytecode()
        if stale:
            removed.append((f"pycache: {len(stale)} files of deleted sources",
                            sum(f.stat().st_size for f in stale)))
            for path in stale:
                path.unlink()
    return removed


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def describe(keep: set[Path]) -> str:
    parts = [f"{p.name} {size_of(p) / 1e6:.0f} MB" for p in sorted(keep) if p.exists()]
    return f"{CACHE} ({', '.join(parts) or 'empty'})"


def make_layout(path: Path, layers: int, layer_mib: int) -> int:
    """An OCI layout of incompressible gzip layers (made once); returns its size in bytes."""
    if not (path / "index.json").exists():
        partial = path.with_name(path.name + ".partial")
        _remove(partial)
        _write_layout(partial, layers, layer_mib)
        _remove(path)
        partial.rename(path)  # a run stopped half-way leaves no layout that looks whole
    return size_of(path)


def aws_cli(explicit: str | None) -> list[str]:
    """The `aws` command: the one given, or the cache's own (installed on first use)."""
    if explicit:
        return [explicit]
    aws = AWS_VENV / "bin" / "aws"
    if not aws.exists():
        print(f"installing the AWS CLI ({AWS_CLI_REQUIREMENT}) into {AWS_VENV}",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(AWS_VENV)], check=True,
                       timeout=300)
        done = subprocess.run([str(AWS_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                               "--disable-pip-version-check", AWS_CLI_REQUIREMENT],
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pip could not install {AWS_CLI_REQUIREMENT}: "
                               f"{done.stderr[-2000:]}; or pass --aws PATH")
    return [str(aws)]


def _write_layout(path: Path, layers: int, layer_mib: int) -> None:
    # Imported here: the caller puts this checkout's src/ on sys.path after importing us.
    from shipyard_testing.oci_layouts import write_oci_layout

    write_oci_layout(path, layers=[layer_mib << 20] * layers, base=None, ref_name=None)


def _stale_bytecode() -> list[Path]:
    """Byte-code under PYCACHE (which mirrors absolute source paths) whose .py is gone."""
    stale = []
    for pyc in PYCACHE.rglob("*.pyc"):
        source = Path("/") / pyc.parent.relative_to(PYCACHE) / (pyc.name.split(".")[0] + ".py")
        if not source.exists():
            stale.append(pyc)
    return stale


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
