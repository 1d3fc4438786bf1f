"""The field paths of smoke checks, and equality as JSON means it."""

from __future__ import annotations

import pytest

from shipyard.domain.json_fields import PathError, find, json_equal, parse_path

DOCUMENT = {"a": {"b": [{"c": 1}, {"c": [10, 20]}]}, "x-y": None, "top": [[5]]}


@pytest.mark.parametrize(("path", "steps", "value"), [
    ("a.b[0].c", ("a", "b", 0, "c"), 1),
    ("a.b[1].c[1]", ("a", "b", 1, "c", 1), 20),
    ("x-y", ("x-y",), None),
    ("top[0][0]", ("top", 0, 0), 5),
])
def test_a_path_finds_its_value(path, steps, value) -> None:
    assert parse_path(path) == steps
    assert find(DOCUMENT, steps) == (True, value)


def test_a_list_at_the_top() -> None:
    assert find([{"id": 7}], parse_path("[0].id")) == (True, 7)


@pytest.mark.parametrize("path", ["a.b[2].c", "a.b.c", "a.b[0].c.d", "nope", "a.b[0].c[0]"])
def test_what_is_not_there_is_not_found(path) -> None:
    assert find(DOCUMENT, parse_path(path)) == (False, None)


@pytest.mark.parametrize("path", ["", "a..b", "a.", ".a", "a[x]", "a[-1]", "a.[0]", "a b",
                                  "a[0", "a.b[0]c"])
def test_a_malformed_path_is_refused(path) -> None:
    with pytest.raises(PathError):
        parse_path(path)


@pytest.mark.parametrize(("left", "right", "equal"), [
    (1, 1.0, True), (True, 1, False), (0, False, False), ("1", 1, False),
    (None, None, True), (None, "", False), ([1, 2], [1, 2], True), ([1, 2], [2, 1], False),
    ({"a": [True]}, {"a": [True]}, True), ({"a": 1}, {"a": 1, "b": 2}, False),
    ({"a": True}, {"a": 1}, False),
])
def test_json_equality(left, right, equal) -> None:
    assert json_equal(left, right) is equal
    assert json_equal(right, left) is equal
