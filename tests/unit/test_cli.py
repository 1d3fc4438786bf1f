"""The CLI's shell: --version, readable help, and errors as JSON under --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.cli import main
from shipyard.cli.help_types import readable_type


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version_prints_the_installed_version(capsys) -> None:
    code, out, err = run(capsys, "--version")
    assert code == 0 and out.startswith("shipyard ") and out.strip() != "shipyard"
    assert err == ""


@pytest.mark.parametrize(("args", "code", "kind", "words"), [
    # a missing project folder: a config error, as JSON on stderr, nothing on stdout
    (["-C", "/nonexistent/svc", "render", "staging", "--json"], 3, "config", "/nonexistent"),
    # an unknown environment in a valid (empty) project
    (["render", "qa", "--json"], 3, "config", "environment 'qa'"),
    # click's own usage errors too
    (["diff", "--json"], 2, "usage", "Missing argument"),
])
def test_errors_are_json_under_json(capsys, tmp_path: Path, monkeypatch, args, code, kind,
                                    words) -> None:
    monkeypatch.chdir(tmp_path)
    exit_code, out, err = run(capsys, *args)
    assert exit_code == code
    error = json.loads(err)["error"]
    assert error["code"] == kind and error["exit"] == code and words in error["message"]
    assert out == "" and err.count("\n") == 1


def test_errors_are_one_line_on_stderr_without_json(capsys, tmp_path: Path,
                                                    monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "render", "qa")
    assert code == 3 and out == "" and err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.parametrize(("label", "shown"), [
    ("<str>", "TEXT"), ("<path>", "PATH"), ("<int>", "INTEGER"), ("<list[str]>", "TEXT"),
    ("<datetime>", "DATETIME"),
])
def test_option_types_read_as_words(label: str, shown: str) -> None:
    assert readable_type(label) == shown


def test_flags_show_no_type_in_help(capsys) -> None:
    code, out, _ = run(capsys, "push", "--help")
    assert code == 0
    assert "<bool>" not in out and "<str>" not in out
    assert "--version TEXT" in out or "--version" in out
