"""`run_build` keeps one layout under `build.output`: its own. Earlier builds' folders go once a
build succeeds (unless their build still runs); a failed build leaves nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.adapters.builders import BuildRequest, BuildResult
from shipyard.errors import BuildError
from shipyard.usecases.build import BuildPlan, run_build


class FakeBuilder:
    """Writes a one-file "layout" where it is told, or fails as a build would."""

    name = "fake"

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.outputs: list[Path] = []

    def available(self) -> bool:
        return True

    def build(self, request: BuildRequest) -> BuildResult:
        self.outputs.append(request.output)
        (request.output.parent / f".{request.output.name}.stag1ng_").mkdir()  # as staging does
        if self.fail is not None:
            raise self.fail
        (request.output.parent / f".{request.output.name}.stag1ng_").rmdir()
        (request.output / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        return BuildResult(request.output, request.platforms, self.name)


def plan(output: Path) -> BuildPlan:
    return BuildPlan(BuildRequest(context=output.parent, dockerfile=output.parent / "Dockerfile",
                                  platforms=("linux/amd64",), output=output))


def layout(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "oci-layout").write_text("{}")
    (path / "blobs").mkdir()
    return path


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_earlier_builds_are_pruned_and_only_ours_is_kept(tmp_path: Path) -> None:
    output = tmp_path / ".shipyard" / "oci"
    layout(output / "1.0.0-ab3_x9qz")  # older releases' mkdtemp folders: a layout,
    (output / "1.0.1-zz_00abc").mkdir(parents=True)  # or empty after a failed build
    layout(output / "1.0.2-0a1b2c3d")  # ours from an ended process: a lock nobody holds
    (output / ".1.0.2-0a1b2c3d.lock").touch()
    (output / ".1.0.2-0a1b2c3d.k1ll3d_x").mkdir()  # the staging of a killed build
    (output / ".1.0.3-deadbeef.lock").touch()  # a lock whose folder is already gone
    # not ours: kept whatever their names
    (output / "notes").mkdir()
    (output / "1.0.4-ab3_x9qz").mkdir()
    (output / "1.0.4-ab3_x9qz" / "work.txt").write_text("not a layout")
    layout(output / "1.0.5-short")
    (output / ".cache.lock").touch()

    result = run_build(plan(output), FakeBuilder(), "1.2.0")

    built = result.layout
    assert built.parent == output and built.name.startswith("1.2.0-")
    assert (built / "oci-layout").is_file()
    assert listing(output) == sorted([built.name, f".{built.name}.lock", ".cache.lock",
                                      "notes", "1.0.4-ab3_x9qz", "1.0.5-short"])
    # A later build in the same process keeps it: this process may still be pushing it (the
    # lock is let go when the process ends, and the next build after that removes it).
    again = run_build(plan(output), FakeBuilder(), "1.2.1").layout
    assert built.is_dir() and again.is_dir()


def test_a_folder_whose_build_still_runs_is_kept(tmp_path: Path) -> None:
    output = tmp_path / "oci"
    running = layout(output / "1.1.0-0123abcd")
    lock = output / ".1.1.0-0123abcd.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys\n"
         "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_SH)\nprint('locked', flush=True)\nsys.stdin.read()\n",
         str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        built = run_build(plan(output), FakeBuilder(), "1.2.0").layout
        assert running.is_dir() and lock.exists()
    finally:
        holder.communicate("")
    assert listing(output) == sorted([running.name, lock.name, built.name,
                                      f".{built.name}.lock"])


@pytest.mark.parametrize("failure", [
    BuildError("Dockerfile line 2: unknown instruction FRUM"),  # the build fails
    KeyboardInterrupt(),  # or is interrupted
])
def test_a_failed_build_leaves_nothing(tmp_path: Path, failure: BaseException) -> None:
    output = tmp_path / "oci"
    earlier = layout(output / "1.0.0-ab3_x9qz")
    builder = FakeBuilder(fail=failure)
    with pytest.raises(type(failure)):
        run_build(plan(output), builder, "1.2.0")
    assert builder.outputs[0].parent == output  # it did get a folder of its own
    assert listing(output) == [earlier.name]  # which is gone, with its staging and lock;
    # earlier layouts are only pruned by a build that succeeded
