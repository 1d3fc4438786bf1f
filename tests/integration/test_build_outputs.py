"""Pushes that build with buildah, each its own process as from a shell: `build.output` keeps
only the last build's layout, and a failed build adds nothing to it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def push(repo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard", "-C", str(repo.project), "push",
                           "--platform", "linux/amd64", *args], capture_output=True, text=True,
                          env=dict(os.environ), check=False, timeout=300)


def test_only_the_last_layout_is_kept(repo, sandbox_env) -> None:
    output = repo.project / ".shipyard" / "oci"
    repo.commit(Dockerfile="FROM scratch\nCOPY version.txt /\n")
    first = push(repo, "--version", "1.0.0")
    assert first.returncode == 0, first.stderr
    [layout] = [p for p in output.iterdir() if not p.name.startswith(".")]
    assert layout.name.startswith("1.0.0-") and (layout / "index.json").is_file()

    before = sorted(p.name for p in output.iterdir())
    again = push(repo, "--version", "1.0.0")  # the same commit: its image is promoted, unbuilt
    assert again.returncode == 0, again.stderr
    assert "nothing is built or uploaded" in again.stdout
    assert sorted(p.name for p in output.iterdir()) == before

    repo.commit("next")
    second = push(repo, "--version", "1.0.1")  # a new commit is built
    assert second.returncode == 0, second.stderr
    kept = sorted(p.name for p in output.iterdir())
    assert len(kept) == 2 and kept[1].startswith("1.0.1-") and kept[0] == f".{kept[1]}.lock"
    assert not layout.exists()

    repo.commit(Dockerfile="FROM scratch\nFRUM nothing\n")
    failed = push(repo, "--version", "1.0.2")
    assert failed.returncode == 10, failed.stderr
    assert sorted(p.name for p in output.iterdir()) == kept
