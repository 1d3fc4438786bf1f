"""Every shell example in README.md runs as written, after the README's own set-up.

The set-up is `dev/demo` (after `dev/bootstrap`, which made the venv these tests run in):
here, `shipyard -C GamePulse demo` once per test session (`demo_run` in conftest.py), in a
fresh clone of this repository with a link to the checkout's `.venv`, against a sandbox
started in a state folder of its own. Then each example runs in bash, in its own copy of that
clone (sharing the service's build output and the sandbox), with `shipyard` on PATH and the
sandbox's environment exported, as `eval "$(shipyard sandbox env)"` would. It must exit with
the code the README implies (0, unless a marker says otherwise), print no `error:` line, and,
where the README shows its output, print that (see `output_matches`). The examples all share
the sandbox, so one that stops it runs last. How examples are read, and the markers that say
an example cannot run here or what it assumes: `shipyard_testing.readme_examples`.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard_testing.readme_examples import Example, output_matches, read_examples
from shipyard_testing.user_shell import run

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
    work: Path  # the working folder: a clone of this repository, after the demo
    env: dict[str, str]


@pytest.fixture(scope="module")
def after_setup(demo_run) -> AfterSetup:
    """The README's set-up, once for every example: the demo, and its sandbox running."""
    assert demo_run.code == 0, demo_run.log[-6000:]
    exports = run(["shipyard", "sandbox", "env", "--json"], demo_run.checkout, demo_run.env)
    assert exports.returncode == 0, exports.stdout
    return AfterSetup(demo_run.checkout, {**demo_run.env, **json.loads(exports.stdout)})


def test_the_readme_has_examples_and_few_that_cannotrun() -> None:
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
        before = run(["bash", "-c", example.before_each], folder, after_setup.env)
        assert before.returncode == 0, f"before each: {example.before_each}\n{before.stdout}"

    done = run(["bash", "-c", example.command], folder, after_setup.env)

    where = f"{example.id}\n$ {example.command}\n{done.stdout}"
    assert done.returncode == example.exit_code, f"exit {done.returncode}: {where}"
    if example.exit_code == 0:  # `eval "$(cmd)"` hides cmd's exit code, not its message
        assert not re.search(r"^error: ", done.stdout, re.MULTILINE), where
    if example.shown_output is not None and example.output_varies is None:
        missing = output_matches(example.shown_output, done.stdout)
        assert missing is None, f"the README shows {missing!r}, which did not come: {where}"
