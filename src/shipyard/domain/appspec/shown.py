"""What an AppSpec problem may show of the file: names of keys and kinds of values, never a
value. Pointed at the wrong file (a credentials file in a CI job), `appspec --check` must not
copy the file into the job's log."""

from __future__ import annotations

import re
from typing import Any

# A key that reads as a name; anything else (`KEY=SECRET`, a long token) is not shown.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")


def name(value: Any, instead: str) -> str:
    """`value` when it reads as a name, else `instead`."""
    return value if isinstance(value, str) and _NAME.fullmatch(value) else instead


def key(value: Any) -> str:
    """`'Name'` for a key that is a name; a description for anything else.

    >>> key("Hooks"), key("DB_PASSWORD=hunter2")
    ("'Hooks'", '(not a name, so not shown)')
    """
    return f"'{value}'" if name(value, "") else "(not a name, so not shown)"


def kind(value: Any) -> str:
    """What sort of value `value` is, in words: never the value itself.

    >>> kind("s3cr3t"), kind(8080), kind(None)
    ('text', 'a number', 'empty')
    """
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
