"""The bounded TOML reader: what counts as nesting, and what does not."""

from __future__ import annotations

import pytest

from shipyard.domain.toml_text import MAX_NESTING, TomlTextError, deepest_line, parse_toml


@pytest.mark.parametrize(("text", "expected"), [
    ("a = 1\n", (1, 0)),
    ("[[environments.prod.capacity_provider_strategy]]\n", (1, 4)),
    ('a = "x.y.z[[[{{{"\n', (1, 0)),  # inside a basic string
    ("a = 'x.y.z[[[{{{'\n", (1, 0)),  # inside a literal string
    ('a = """\n....\n[[[[\n"""\nb.c = 1\n', (5, 1)),  # a multi-line string spans lines
    ("a = '''\n....\n'''\nb = 1.5\n", (4, 1)),  # the float's dot counts, harmlessly
    ("a = 1 # x.y.z.w[[[\n", (1, 0)),  # a comment
    ('a = "\\"[[["\n', (1, 0)),  # an escaped quote does not end the string
    ("a = [\n[\n[1]\n]\n]\n", (3, 3)),  # arrays open across lines
])
def test_deepest_line_counts_dots_and_open_brackets_outside_strings(text, expected) -> None:
    assert deepest_line(text) == expected


def test_a_real_config_parses() -> None:
    text = ('[version]\ntag_prefix = "v"\n[scan]\ntimeout = 600.5\n'
            '[[environments.prod.capacity_provider_strategy]]\ncapacity_provider = "FARGATE"\n')
    assert parse_toml(text)["scan"]["timeout"] == 600.5


def test_the_limit_is_inclusive() -> None:
    parse_toml("a" + ".a" * MAX_NESTING + " = 1\n")
    with pytest.raises(TomlTextError, match=f"line 1 nests {MAX_NESTING + 1} deep"):
        parse_toml("a" + ".a" * (MAX_NESTING + 1) + " = 1\n")


def test_syntax_errors_stay_syntax_errors() -> None:
    with pytest.raises(TomlTextError, match=r"not valid TOML .*fix the syntax"):
        parse_toml("a = \n")
