"""TOML text a person wrote (shipyard.toml, a scan allowlist), parsed with its depth bounded.

Python's `tomllib` recurses once per nested array or inline table, so a few hundred `[` end
in a RecursionError; and it keeps every prefix of a dotted key, so one line of 100,000
`a.a.a...` parts (200 KB) takes tens of gigabytes and the machine kills the process. No
Shipyard setting nests deeper than a few levels, so a line that nests deeper than
`MAX_NESTING` is refused, by a lexical scan, before `tomllib` sees it.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

MAX_NESTING = 32

# What counts: a dot or an opening bracket outside strings and comments. Strings (all four
# TOML kinds) and comments are matched whole so that what they hold is skipped.
_TOKENS = re.compile(r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"'
                     r"|'[^'\n]*'|#[^\n]*|[.\[{\]}\n]", re.S)


class TomlTextError(ValueError):
    """The text is not TOML, or nests too deeply; the message says where and how."""


def deepest_line(text: str) -> tuple[int, int]:
    """(line number, nesting) of the most deeply nested line: dotted-key parts on the line
    plus the arrays and inline tables open there (which may span lines)."""
    line, open_brackets, dots, deepest = 1, 0, 0, (1, 0)
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token == "\n":
            line, dots = line + 1, 0
            continue
        if token == ".":
            dots += 1
        elif token in "[{":
            open_brackets += 1
        elif token in "]}":
            open_brackets = max(0, open_brackets - 1)
        else:  # a string or comment: may span lines, holds nothing that nests
            line += token.count("\n")
            continue
        if dots + open_brackets > deepest[1]:
            deepest = (line, dots + open_brackets)
    return deepest


def parse_toml(text: str) -> dict[str, Any]:
    """`tomllib.loads(text)`, refusing text that nests deeper than `MAX_NESTING`."""
    line, depth = deepest_line(text)
    if depth > MAX_NESTING:
        raise TomlTextError(f"line {line} nests {depth} deep (dots of dotted keys plus open "
                            f"arrays and inline tables), more than the {MAX_NESTING} allowed; "
                            "no setting nests that deep, fix that line")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlTextError(f"not valid TOML ({exc}); fix the syntax") from exc
    except RecursionError as exc:  # the scan above should make this unreachable
        raise TomlTextError("nested too deeply to read; no setting nests that deep") from exc
