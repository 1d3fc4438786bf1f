"""The README's promises that code can check: the exit-code table and the two commands."""

from __future__ import annotations

import re
from pathlib import Path

import shipyard
from shipyard.errors import ExitCode, ShipyardError

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_exit_code_table_lists_every_code() -> None:
    section = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert documented == {int(code) for code in ExitCode}


def test_every_error_class_has_a_distinct_documented_code() -> None:
    classes = [ShipyardError, *ShipyardError.__subclasses__()]
    codes = [cls.exit_code for cls in classes]
    assert len(codes) == len(set(codes))


def test_readme_starts_with_the_two_commands() -> None:
    block = README.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[0] for line in block] == ["dev/demo", "dev/test"]
    for line in block:
        assert (ROOT / line.split()[0]).stat().st_mode & 0o111, f"{line} is not executable"


def test_public_api_names_exist() -> None:
    assert len(shipyard.__all__) == len(set(shipyard.__all__))
    missing = [name for name in shipyard.__all__ if not hasattr(shipyard, name)]
    assert missing == []
