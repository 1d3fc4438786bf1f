"""Fields of a JSON answer named by a small path syntax, and equality as JSON means it.

A path is keys joined by dots, each optionally followed by list indexes: `version`,
`events[0].type`, `a.b[2][0]`, or `[0].id` for a list at the top. Keys are letters, digits,
`_`, `-` and `:`; an index is a whole number from 0. `smoke` checks each configured path
against a service's answer.

>>> find({"events": [{"type": "kill"}]}, parse_path("events[0].type"))
(True, 'kill')
>>> find({"events": []}, parse_path("events[0].type"))
(False, None)
>>> json_equal(1, 1.0), json_equal(True, 1), json_equal({"a": [1]}, {"a": [1]})
(True, False, True)
"""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(r"(?P<key>[A-Za-z0-9_:-]+)?(?P<indexes>(\[[0-9]+\])*)")
_INDEX = re.compile(r"\[([0-9]+)\]")

Step = str | int  # a key of an object, or an index of a list


class PathError(ValueError):
    """A path that does not follow the syntax."""


def parse_path(path: str) -> tuple[Step, ...]:
    """The steps of `path`; PathError says what is wrong."""
    if not path:
        raise PathError("an empty path; name a field, like \"version\" or \"events[0].type\"")
    steps: list[Step] = []
    for position, part in enumerate(path.split(".")):
        found = _STEP.fullmatch(part)
        if not part or found is None or (found["key"] is None and position > 0) \
                or (found["key"] is None and not found["indexes"]):
            raise PathError(f"{path!r} is not a field path; write keys joined by dots, each "
                            "with optional [N] indexes, like \"events[0].type\"")
        if found["key"] is not None:
            steps.append(found["key"])
        steps.extend(int(index) for index in _INDEX.findall(found["indexes"]))
    return tuple(steps)


def find(document: Any, steps: tuple[Step, ...]) -> tuple[bool, Any]:
    """(True, the value) at `steps` in `document`, or (False, None) when it is not there."""
    value = document
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return False, None
        elif not isinstance(value, dict) or step not in value:
            return False, None
        value = value[step]
    return True, value


def json_equal(left: Any, right: Any) -> bool:
    """Equal as JSON values: numbers by value (1 equals 1.0), but a boolean is never a number
    and a string never a number, as Python's `==` alone would have `True == 1`."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return type(left) is type(right) and left == right
