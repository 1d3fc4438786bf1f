"""The GamePulse workflow: equal to what `shipyard ci github` generates (golden), clean under
actionlint with shellcheck, and every `shipyard` command and flag it runs exists."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

from shipyard.cli import app
from shipyard.config import load_config
from shipyard.usecases.ci_github import ACTIONS, github_workflow

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "gamepulse-ci-cd.yml"


def test_the_committed_workflow_is_what_shipyard_ci_github_generates() -> None:
    generated = github_workflow(load_config(ROOT / "GamePulse"), "GamePulse")
    assert generated.path == WORKFLOW.relative_to(ROOT).as_posix()
    assert WORKFLOW.read_text() == generated.text, (
        "the workflow differs from shipyard.toml's: run `shipyard -C GamePulse ci github`")


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    found = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    assert Path(found).exists(), "actionlint is installed with the test extras (dev/bootstrap)"
    shellcheck = shutil.which("shellcheck")
    # Without shellcheck actionlint silently skips the run steps: dev/bootstrap installs it.
    assert shellcheck, "shellcheck is missing: dev/bootstrap installs it (Debian shellcheck)"
    return subprocess.run([found, "-shellcheck", shellcheck, "-no-color", str(path)],
                          capture_output=True, text=True, check=False, timeout=120)


def test_actionlint_and_shellcheck_find_nothing_in_the_workflow() -> None:
    done = _actionlint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_runs_shellcheck_on_run_steps(tmp_path: Path) -> None:
    # The check above would pass with shellcheck not consulted; an unquoted variable shows it is.
    bad = WORKFLOW.read_text().replace('shipyard scan "$DIGEST"', "shipyard scan $DIGEST")
    assert bad != WORKFLOW.read_text()
    (tmp_path / "w.yml").write_text(bad)
    done = _actionlint(tmp_path / "w.yml")
    assert done.returncode != 0 and "SC2086" in done.stdout, done.stdout + done.stderr


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_only_the_pinned_actions_are_used() -> None:
    pinned = {f"{repo}@{sha}" for repo, sha, _ in ACTIONS.values()}
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            assert "uses" in step or "run" in step
            if "uses" in step:
                assert step["uses"] in pinned, step["uses"]
    for repo, sha, tag in ACTIONS.values():
        assert re.fullmatch(r"[0-9a-f]{40}", sha) and re.fullmatch(r"v\d+\.\d+\.\d+", tag)
        assert f"{repo}@{sha} # {tag}" in WORKFLOW.read_text()


# --- every `shipyard` command line of the run steps, checked against the CLI ---------------

_ARRAY = re.compile(r"^\s*(?:if .*then\s+)?(\w+)\+?=\((.*)\)")


def shipyard_commands(script: str) -> list[list[str]]:
    """The `shipyard ...` command lines of a bash script, arrays ("${args[@]}") expanded."""
    arrays: dict[str, list[str]] = {}
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        array = _ARRAY.match(line)
        if array:
            arrays.setdefault(array.group(1), []).extend(shlex.split(array.group(2)))
            continue
        words = shlex.split(line, comments=True)
        if "shipyard" in words:
            words = words[words.index("shipyard") + 1:]
            expanded: list[str] = []
            for word in words:
                name = re.fullmatch(r"\$\{(\w+)\[@\]\}", word)
                expanded.extend(arrays.get(name.group(1), []) if name else [word])
            commands.append(expanded)
    return commands


def check_command(args: list[str]) -> None:
    """Raise AssertionError when the command, one of its options or its arguments is
    unknown to the CLI (the options are matched by name, as click parses them)."""
    # Typer carries its own copy of click: groups are known by their commands, parameters by
    # their kind.
    command = typer.main.get_command(app)
    args = list(args)
    while hasattr(command, "commands"):
        assert args, f"shipyard {command.name}: a command is missing"
        name = args.pop(0)
        assert name in command.commands, f"shipyard has no command {name!r}"
        command = command.commands[name]
    options = {opt: p for p in command.params if p.param_type_name == "option"
               for opt in (*p.opts, *p.secondary_opts)}
    positional = 0
    while args:
        word = args.pop(0)
        if word.startswith("-"):
            option = options.get(word.split("=", 1)[0])
            assert option is not None, f"shipyard {command.name} has no option {word}"
            if not option.is_flag and "=" not in word:
                assert args, f"shipyard {command.name} {word}: its value is missing"
                args.pop(0)
        else:
            positional += 1
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    assert positional == len(arguments), (
        f"shipyard {command.name} takes {len(arguments)} argument(s), the workflow gives "
        f"{positional}")


def _all_commands() -> list[list[str]]:
    commands = []
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            commands.extend(shipyard_commands(step.get("run", "")))
    return commands


def test_every_shipyard_command_and_flag_in_the_workflow_exists() -> None:
    commands = _all_commands()
    names = {c[0] for c in commands}
    assert {"version", "tags", "push", "scan", "deploy", "status", "smoke", "loadtest"} <= names
    for args in commands:
        check_command(args)


def test_the_push_step_passes_its_array_flags() -> None:
    pushes = [c for c in _all_commands() if c[0] == "push"]
    assert pushes == [["push", "--multi-arch", "--git-tag", "--sbom", "--sign", "--version",
                       "$VERSION"]]


@pytest.mark.parametrize(("script", "fault"), [
    ("shipyard deploy staging --nope", "no option --nope"),
    ("shipyard deplo staging", "no command 'deplo'"),
    ("shipyard deploy", "takes 1 argument(s)"),
    ("shipyard deploy staging --image", "its value is missing"),
    ('args=(--bogus)\nshipyard push "${args[@]}"', "no option --bogus"),
    ("shipyard ci", "a command is missing"),
])
def test_the_command_check_finds_what_does_not_exist(script: str, fault: str) -> None:
    (args,) = shipyard_commands(script)
    with pytest.raises(AssertionError, match=re.escape(fault)):
        check_command(args)


# What a run step may call, so `shipyard rehearse` can run every one of them locally.
PROGRAMS = {"shipyard", "git", "mkdir", "echo", "["}
PYTHON_MODULES = {"pip", "pytest", "coverage", "ruff"}
_SEPARATORS = {";", "&&", "||", "|", "then", "else", "do", "{", "(", "if", "!"}


def programs(script: str) -> list[list[str]]:
    """Each simple command of a script, as its words (assignments and `fi`/`}` left out)."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        line = re.sub(r"\w+\+?=\([^)]*\)", "", line)  # array assignments
        line = re.sub(r"\d*[<>]{1,2}\s*(\"[^\"]*\"|\S+)", "", line)  # redirections
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|(){}")
        lexer.whitespace_split = True
        words, current = list(lexer), []
        for word in [*words, ";"]:
            if word in _SEPARATORS or set(word) <= set(";&|(){}"):
                if current and current[0] not in {"fi", "}", "done"} \
                        and not re.fullmatch(r"\w+\+?=.*", current[0]):
                    found.append(current)
                current = []
            else:
                current.append(word)
    return found


def test_run_steps_call_only_shipyard_git_and_python_tools() -> None:
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            for words in programs(step.get("run", "")):
                if words[0] == "python":
                    assert words[1] == "-m" and words[2] in PYTHON_MODULES, words
                else:
                    assert words[0] in PROGRAMS, words


def test_the_program_check_sees_each_command_of_a_line() -> None:
    script = 'args=(--x)\nif [ -n "$V" ]; then curl -s x | sh; fi\n{ echo a; } >> "$F"\n'
    assert programs(script) == [["[", "-n", "$V", "]"], ["curl", "-s", "x"], ["sh"],
                                ["echo", "a"]]
