"""`dev/shipyard`: the CLI from this checkout with nothing activated, from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "dev" / "shipyard"


def run(command: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = "/usr/bin:/bin"  # no .venv on PATH: the wrapper must find it itself
    return subprocess.run([str(command), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False, timeout=120)


def test_runs_the_checkouts_cli_from_any_folder(tmp_path: Path) -> None:
    result = run(WRAPPER, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage: shipyard" in result.stdout
    # a usage error comes back with the CLI's own exit code
    assert run(WRAPPER, "no-such-command", cwd=tmp_path).returncode == 2


def test_works_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    link = tmp_path / "bin" / "shipyard"
    link.symlink_to(WRAPPER)
    result = run(link, "sandbox", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "provision" in result.stdout


def checkout_without_venv(tmp_path: Path, bootstrap: str) -> Path:
    """A checkout's dev/ folder with the real wrapper; dev/bootstrap is `bootstrap`."""
    (tmp_path / "dev").mkdir(parents=True)
    shutil.copy2(WRAPPER, tmp_path / "dev" / "shipyard")
    script = tmp_path / "dev" / "bootstrap"
    script.write_text("#!/usr/bin/env bash\nset -eu\ncd \"$(dirname \"$0\")/..\"\n" + bootstrap)
    script.chmod(0o755)
    return tmp_path / "dev" / "shipyard"


def test_sets_up_the_venv_first_and_quietly(tmp_path: Path) -> None:
    wrapper = checkout_without_venv(tmp_path / "checkout", (
        "echo 'bootstrap: creating .venv' >&2\n"
        "mkdir -p .venv/bin\n"
        "printf '#!/bin/sh\\necho \"cli in $PWD: $*\"\\n' > .venv/bin/shipyard\n"
        "chmod +x .venv/bin/shipyard\n"))
    (tmp_path / "work").mkdir()
    result = run(wrapper, "-C", "svc", "version", cwd=tmp_path / "work")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the bootstrap's progress is not shown when it succeeds
    assert result.stdout == f"cli in {tmp_path / 'work'}: -C svc version\n"
    # set up once: the next run does not bootstrap again
    (tmp_path / "checkout" / "dev" / "bootstrap").write_text("#!/bin/sh\nexit 9\n")
    assert run(wrapper, "x", cwd=tmp_path / "work").returncode == 0


def test_a_failed_bootstrap_is_shown(tmp_path: Path) -> None:
    wrapper = checkout_without_venv(tmp_path, "echo 'E: Unable to locate package buildah' >&2\n"
                                              "exit 100\n")
    result = run(wrapper, "--help", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "E: Unable to locate package buildah",
        "shipyard: dev/bootstrap failed (its output is above); fix that and run it again"]
    assert not (tmp_path / ".venv").exists()
