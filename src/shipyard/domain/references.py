"""The shell's `${VAR}` forms in a `shipyard.toml` value, one level deep: the grammar and the
filling-in that build args (`shipyard.domain.build_args`) and health-check URLs
(`shipyard.domain.health_url`) share. Each caller says what a name is and what is wrong when
one is missing, so its messages name its own key.

| written                 | is                                                        |
|-------------------------|-----------------------------------------------------------|
| `${NAME}`               | NAME's value (set and not empty), or the caller's error    |
| `${NAME:-default}`      | NAME, or the default when NAME is unset or empty           |
| `${NAME:-${OTHER}/x}`   | a default may hold references itself (one level: no deeper) |

A `$` not followed by `{` is plain text.

>>> substitute("${A:-${B:-x}}/y", {"B": "b"}.get, lambda name: "?")
'b/y'
"""

from __future__ import annotations

import re
from collections.abc import Callable

FORMS = "${VAR}, ${VAR:-default} or ${VAR:-${OTHER}} (one level of nesting)"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TEXT = r"(?:\$(?!\{)|[^${}])"  # text in a default: no braces, and `$` only before no `{`
_INNER = re.compile(rf"\$\{{({_NAME})(?::-({_TEXT}*))?\}}")
_OUTER = re.compile(rf"\$\{{({_NAME})(?::-((?:{_INNER.pattern}|{_TEXT})*))?\}}")
_VALUE = re.compile(rf"(?:{_OUTER.pattern}|\$(?!\{{)|[^$])*")
_ANY_NAME = re.compile(rf"\$\{{({_NAME})")


def well_formed(value: str) -> bool:
    """True when `value` is plain text and references in the grammar above."""
    return bool(_VALUE.fullmatch(value))


def names(value: str) -> list[str]:
    """Every name `value` refers to, defaults' names included, in order."""
    return _ANY_NAME.findall(value)


def substitute(value: str, known: Callable[[str], str | None],
               missing: Callable[[str], str]) -> str:
    """`value` (well formed) with each reference filled: `known(name)` when it is not empty,
    else the default, else `missing(name)`, which returns a value or raises the caller's
    error."""

    def fill(name: str, default: str | None, nested: bool) -> str:
        found = known(name)
        if found:
            return found
        if default is not None:
            return _INNER.sub(lambda m: fill(m[1], m[2], False), default) if nested else default
        return missing(name)

    return _OUTER.sub(lambda m: fill(m[1], m[2], True), value)
