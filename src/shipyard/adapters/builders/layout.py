"""The OCI image layout folder a build (re)creates: guarded, staged, then swapped in.

Builders write into a staging folder next to the output and swap it in only when the build
succeeded, so a failed build leaves the previous layout intact and a reader never sees half a
layout. We refuse to replace a folder that is not an OCI layout (a typo such as `--output .`
must not wipe a source tree).
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shipyard.errors import BuildError, UsageError

from .request import BuildRequest

LAYOUT_MARKER = "oci-layout"


def check_inputs(request: BuildRequest) -> None:
    """Fail fast, before any slow step, on a request that cannot build."""
    if not request.context.is_dir():
        raise BuildError(f"build context {request.context} is not a folder; "
                         "point the build context at the service's folder")
    if not request.dockerfile.is_file():
        raise BuildError(f"Dockerfile {request.dockerfile} does not exist; "
                         "create it or point the build at the right file")
    if ":" in str(request.output.absolute()):
        # buildah's `oci:PATH[:TAG]` splits on ':', so such a path would be read as a tag.
        raise UsageError(f"build output {request.output} contains ':'; pick a folder without one")
    check_replaceable(request.output)


def check_replaceable(output: Path) -> None:
    """Fail before building when `output` exists and is not something we may replace."""
    if not output.exists():
        return
    if not output.is_dir():
        raise BuildError(f"build output {output} is a file, not a folder; remove it or pick "
                         "another output folder")
    if any(output.iterdir()) and not (output / LAYOUT_MARKER).is_file():
        raise BuildError(f"build output {output} is a non-empty folder that is not an OCI image "
                         "layout; empty it or pick another output folder")


@contextmanager
def staged_layout(output: Path) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces `output`, on failure it is removed.

    The staging folder is a sibling of `output`, so the final swap is a rename on one file system.
    """
    check_replaceable(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        yield staging / "layout"
        _swap_in(staging / "layout", output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(new: Path, output: Path) -> None:
    verify_layout(new)
    old = new.parent / "previous"
    if output.exists():
        output.rename(old)
    try:
        new.rename(output)
    except OSError:
        if old.exists():
            old.rename(output)  # put the previous layout back rather than leave nothing
        raise


def verify_layout(folder: Path) -> dict:
    """The layout's `index.json`, after checking the folder is an OCI layout with one entry.

    One top-level entry is what `skopeo inspect oci:DIR` and our pusher expect: either an image
    manifest (one platform) or an image index (several).
    """
    try:
        json.loads((folder / LAYOUT_MARKER).read_text())
        index = json.loads((folder / "index.json").read_text())
    except (OSError, ValueError) as exc:
        raise BuildError(f"the builder wrote no valid OCI image layout in {folder} ({exc}); "
                         "check the builder's version and output settings") from exc
    if len(index.get("manifests", [])) != 1:
        raise BuildError(f"the OCI layout in {folder} lists {len(index.get('manifests', []))} "
                         "top-level manifests instead of one; build into an empty folder")
    return index


def unpack_oci_tar(archive: Path, dest: Path) -> None:
    """Unpack an OCI layout tarball (docker buildx `type=oci` output) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            # The "data" filter refuses absolute paths, `..`, links out of `dest` and devices.
            tar.extractall(dest, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise BuildError(f"cannot unpack the builder's OCI archive {archive}: {exc}; "
                         "check free disk space and build again") from exc
    verify_layout(dest)
