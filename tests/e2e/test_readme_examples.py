"""Every shell example in README.md runs as written, after the README's own set-up.

The set-up is `dev/demo` (after `dev/bootstrap`, which made the venv these tests run in):
here, `shipyard -C GamePulse demo` once, in a fresh git repository holding a copy of the
repository's GamePulse and .github folders (and links to the checkout's `.venv` and
`benchmarks`),
against a sandbox started in a state folder of its own. Then
each example runs in bash, in its own copy of that working folder (sharing the demo's build
output and its sandbox), with `shipyard` on PATH and the sandbox's environment exported, as
`eval "$(shipyard sandbox env)"` would. It must exit with the code the README implies (0,
unless a marker says otherwise), print no `error:` line, and, where the README shows its
output, print that (see `output_matches`). The examples all share the sandbox, so one that
stops it runs last. How examples are read, and the markers that say an example cannot run
here or what it assumes: `shipyard_testing.readme_examples`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard_testing.readme_examples import Example, output_matches, read_examples

ROOT = Path(__file__).resolve().parents[2]
SETUP = ("dev/demo", "dev/test")  # the README's set-up itself, not examples
STOPS_SANDBOX = re.compile(r"\bsandbox\s+down\b")
# Kept by the demo in the service folder, shared by every example's copy instead of copied.
SHARED = (".shipyard", ".build")

EXAMPLES = read_examples(ROOT / "README.md")
RUN = sorted((e for e in EXAMPLES if e.command not in SETUP and e.not_run is None),
             key=lambda e: bool(STOPS_SANDBOX.search(e.command)))

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class AfterSetup:
    work: Path  # the working folder: a git repository with GamePulse, after the demo
    env: dict[str, str]


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One process as a reader's shell runs it: stdout and stderr in one stream, no input."""
    return subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900, check=False)


@pytest.fixture(scope="module")
def after_setup(tmp_path_factory: pytest.TempPathFactory):
    """The README's set-up, once for every example: the demo, and its sandbox running."""
    root = tmp_path_factory.mktemp("readme")
    work = root / "work"
    shutil.copytree(ROOT / "GamePulse", work / "GamePulse",
                    ignore=shutil.ignore_patterns(".shipyard", "__pycache__"))
    shutil.copy(ROOT / ".gitignore", work / ".gitignore")
    shutil.copytree(ROOT / ".github", work / ".github")  # the workflow `ci github` checks
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=work, check=True)
    # The examples run in a checkout: its venv (which dev/bootstrap made) and its tools.
    (work / ".venv").symlink_to(sys.prefix)
    (work / "benchmarks").symlink_to(ROOT / "benchmarks")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "RUNNER_", "AWS_", "SHIPYARD_")) and k != "CI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SHIPYARD_SANDBOX_DIR"] = str(root / "sandbox")
    try:
        demo = _run(["shipyard", "-C", "GamePulse", "demo"], work, env)
        assert demo.returncode == 0, demo.stdout
        exports = _run(["shipyard", "sandbox", "env", "--json"], work, env)
        assert exports.returncode == 0, exports.stdout
        yield AfterSetup(work, {**env, **json.loads(exports.stdout)})
    finally:
        _run(["shipyard", "sandbox", "down"], work, env)


def test_the_readme_has_examples_and_few_that_cannot_run() -> None:
    """The extraction finds the README's examples, and marking one not run stays rare."""
    assert len(RUN) >= 15, [e.id for e in RUN]
    reasons = {e.not_run for e in EXAMPLES if e.not_run is not None}
    # another Python environment, the AWS CLI, the benchmarks, a minutes-long rehearsal
    assert len(reasons) <= 4, reasons
    assert all(len(reason) > 20 for reason in reasons), reasons  # a reason, not a shrug


@pytest.mark.parametrize("example", RUN, ids=lambda e: e.id)
def test_readme_example_runs_as_written(example: Example, after_setup: AfterSetup,
                                        tmp_path: Path) -> None:
    folder = tmp_path / "work"
    shutil.copytree(after_setup.work, folder, symlinks=True,
                    ignore=shutil.ignore_patterns(*SHARED))
    for name in SHARED:
        if (after_setup.work / "GamePulse" / name).exists():
            (folder / "GamePulse" / name).symlink_to(after_setup.work / "GamePulse" / name)
    if example.before_each:
        before = _run(["bash", "-c", example.before_each], folder, after_setup.env)
        assert before.returncode == 0, f"before each: {example.before_each}\n{before.stdout}"

    done = _run(["bash", "-c", example.command], folder, after_setup.env)

    where = f"{example.id}\n$ {example.command}\n{done.stdout}"
    assert done.returncode == example.exit_code, f"exit {done.returncode}: {where}"
    if example.exit_code == 0:  # `eval "$(cmd)"` hides cmd's exit code, not its message
        assert not re.search(r"^error: ", done.stdout, re.MULTILINE), where
    if example.shown_output is not None and example.output_varies is None:
        missing = output_matches(example.shown_output, done.stdout)
        assert missing is None, f"the README shows {missing!r}, which did not come: {where}"
