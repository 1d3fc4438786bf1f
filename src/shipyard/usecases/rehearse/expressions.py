"""A small evaluator for the `${{ }}` expressions of a GitHub Actions workflow.

It evaluates what the GamePulse workflow uses and refuses the rest with one line, rather
than guessing what GitHub would have done:

- contexts: github, env, vars, secrets, inputs, needs, steps, matrix, runner, job;
- literals: 'strings' ('' escapes a quote), numbers, true, false, null;
- property access: `a.b`, `a.b-c` (names may hold dashes), `a['b']`, and the object filter
  `a.*.b` (the `b` of every value of `a`: `contains(needs.*.result, 'failure')`);
- operators: `( )`, `!`, `==`, `!=`, `&&`, `||` (`&&` and `||` give an operand, as GitHub's do);
- functions: startsWith, contains, format, success(), always(), failure(), cancelled().

Comparison follows GitHub's rules: strings compare case-insensitively; values of different
types are compared as numbers (null is 0, true 1, '' 0, other text NaN). Falsy values are
false, 0, '', and null; a missing property is null, shown as ''.

>>> evaluate("github.ref == 'refs/heads/main' && !contains(github.event_name, 'pull')",
...          {"github": {"ref": "refs/heads/main", "event_name": "push"}})
True
>>> interpolate("v${{ needs.build.outputs.version }}",
...             {"needs": {"build": {"outputs": {"version": "1.2.0"}}}})
'v1.2.0'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

CONTEXTS = frozenset({"github", "env", "vars", "secrets", "inputs", "needs", "steps", "matrix",
                      "runner", "job"})
STATUS_FUNCTIONS = frozenset({"success", "always", "failure", "cancelled"})
FUNCTIONS = frozenset({"startswith", "contains", "format"}) | STATUS_FUNCTIONS
SUPPORTED = ("contexts github, env, vars, secrets, inputs, needs, steps, matrix, runner, job; "
             "operators ! == != && || and functions startsWith, contains, format, success, "
             "always, failure, cancelled")


class ExpressionError(ValueError):
    """An expression the rehearsal cannot evaluate (a syntax error, or something unsupported)."""


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))
  | (?P<op>==|!=|&&|\|\||<=|>=|[<>!().,\[\]*])
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
""", re.VERBOSE)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(source: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise ExpressionError(f"cannot read {source[position:position + 12]!r} in "
                                  f"'{source}'")
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group()))
    return tokens


# A parsed expression is a tree of tuples: ("lit", value), ("ctx", name), ("prop", node,
# name-node), ("filter", node), ("not", node), ("and"/"or"/"=="/"!=", left, right),
# ("call", name, [args]).
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.index = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise ExpressionError("an empty expression")
        node = self._or()
        if self.index < len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.index].text!r} in "
                                  f"'{self.source}'")
        return node

    def _peek(self) -> str | None:
        return self.tokens[self.index].text if self.index < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> _Token:
        if self.index >= len(self.tokens):
            raise ExpressionError(f"'{self.source}' ends too soon")
        token = self.tokens[self.index]
        if expected is not None and token.text != expected:
            raise ExpressionError(f"expected {expected!r}, found {token.text!r} in "
                                  f"'{self.source}'")
        self.index += 1
        return token

    def _or(self) -> Node:
        node = self._and()
        while self._peek() == "||":
            self._take()
            node = ("or", node, self._and())
        return node

    def _and(self) -> Node:
        node = self._comparison()
        while self._peek() == "&&":
            self._take()
            node = ("and", node, self._comparison())
        return node

    def _comparison(self) -> Node:
        node = self._unary()
        while self._peek() in ("==", "!=", "<", ">", "<=", ">="):
            operator = self._take().text
            if operator not in ("==", "!="):
                raise ExpressionError(f"the rehearsal does not evaluate {operator!r} (in "
                                      f"'{self.source}'); it evaluates {SUPPORTED}")
            node = (operator, node, self._unary())
        return node

    def _unary(self) -> Node:
        if self._peek() == "!":
            self._take()
            return ("not", self._unary())
        return self._postfix()

    def _postfix(self) -> Node:
        node = self._primary()
        while self._peek() in (".", "["):
            if self._take().text == ".":
                token = self._take()
                if token.text == "*":
                    node = ("filter", node)
                    continue
                if token.kind != "name":
                    raise ExpressionError(f"expected a property name after '.', found "
                                          f"{token.text!r} in '{self.source}'")
                node = ("prop", node, ("lit", token.text))
            else:
                index = self._or()
                self._take("]")
                node = ("prop", node, index)
        return node

    def _primary(self) -> Node:
        token = self._take()
        if token.text == "(":
            node = self._or()
            self._take(")")
            return node
        if token.kind == "string":
            return ("lit", token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            return ("lit", _number(token.text))
        if token.kind != "name":
            raise ExpressionError(f"unexpected {token.text!r} in '{self.source}'")
        if token.text in ("true", "false"):
            return ("lit", token.text == "true")
        if token.text == "null":
            return ("lit", None)
        if self._peek() == "(":
            return self._call(token.text)
        if token.text not in CONTEXTS:
            raise ExpressionError(f"the rehearsal does not know the context {token.text!r} "
                                  f"(in '{self.source}'); it evaluates {SUPPORTED}")
        return ("ctx", token.text)

    def _call(self, name: str) -> Node:
        if name.lower() not in FUNCTIONS:
            raise ExpressionError(f"the rehearsal does not evaluate {name}() (in "
                                  f"'{self.source}'); it evaluates {SUPPORTED}")
        self._take("(")
        arguments: list[Node] = []
        while self._peek() != ")":
            arguments.append(self._or())
            if self._peek() != ")":
                self._take(",")
        self._take(")")
        wanted = {"startswith": 2, "contains": 2}.get(name.lower(), 0)
        if name.lower() == "format":
            if not arguments:
                raise ExpressionError(f"format() needs a format string (in '{self.source}')")
        elif len(arguments) != wanted:
            raise ExpressionError(f"{name}() takes {wanted} arguments, not {len(arguments)} "
                                  f"(in '{self.source}')")
        return ("call", name.lower(), arguments)


def _number(text: str) -> float:
    return float(int(text, 16)) if "x" in text.lower() else float(text)


def parse(source: str) -> Node:
    """The tree of `source`, or ExpressionError naming what is not supported."""
    return _Parser(source).parse()


def uses_status_function(node: Node) -> bool:
    """Whether an `if:` calls success(), always(), failure() or cancelled() itself; if not,
    GitHub reads it as `success() && (...)`."""
    if node[0] == "call" and node[1] in STATUS_FUNCTIONS:
        return True
    return any(uses_status_function(part) for part in _children(node))


def _children(node: Node) -> list[Node]:
    if node[0] in ("and", "or", "==", "!="):
        return [node[1], node[2]]
    if node[0] in ("not", "filter"):
        return [node[1]]
    if node[0] == "prop":
        return [node[1], node[2]]
    if node[0] == "call":
        return list(node[2])
    return []


# What the status functions answer: "success", "failure" or "cancelled" for the job or run.
StatusFn = Callable[[], str]


def evaluate(source: str | Node, contexts: Mapping[str, Any],
             status: StatusFn = lambda: "success") -> Any:
    """The value of an expression (a string to parse, or a tree from `parse`)."""
    node = parse(source) if isinstance(source, str) else source
    return _Evaluator(contexts, status).value(node)


class _Evaluator:
    def __init__(self, contexts: Mapping[str, Any], status: StatusFn) -> None:
        self.contexts = contexts
        self.status = status

    def value(self, node: Node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "ctx":
            return self.contexts.get(node[1])
        if kind == "prop":
            container = self.value(node[1])
            key = self.value(node[2])
            if isinstance(container, _Filtered):
                found = (_property(item, key) for item in container)
                return _Filtered(item for item in found if item is not None)
            return _property(container, key)
        if kind == "filter":
            container = self.value(node[1])
            if isinstance(container, Mapping):
                return _Filtered(container.values())
            return _Filtered(container) if isinstance(container, list) else _Filtered()
        if kind == "not":
            return not truthy(self.value(node[1]))
        if kind == "and":
            left = self.value(node[1])
            return self.value(node[2]) if truthy(left) else left
        if kind == "or":
            left = self.value(node[1])
            return left if truthy(left) else self.value(node[2])
        if kind in ("==", "!="):
            same = loosely_equal(self.value(node[1]), self.value(node[2]))
            return same if kind == "==" else not same
        return self._call(node[1], [self.value(argument) for argument in node[2]])

    def _call(self, name: str, arguments: list[Any]) -> Any:
        if name == "startswith":
            return to_string(arguments[0]).lower().startswith(to_string(arguments[1]).lower())
        if name == "contains":
            haystack, needle = arguments
            if isinstance(haystack, list):
                return any(loosely_equal(item, needle) for item in haystack)
            return to_string(needle).lower() in to_string(haystack).lower()
        if name == "format":
            return _format(to_string(arguments[0]), [to_string(a) for a in arguments[1:]])
        state = self.status()
        return {"always": True, "success": state == "success", "failure": state == "failure",
                "cancelled": state == "cancelled"}[name]


class _Filtered(list[Any]):
    """What `.*` gives: the values of an object or the items of an array; a property of it is
    that property of each (`needs.*.result` is every needed job's result)."""


def _property(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        if isinstance(key, str):
            # GitHub's property names are case-insensitive.
            if key in container:
                return container[key]
            lowered = key.lower()
            for name, value in container.items():
                if isinstance(name, str) and name.lower() == lowered:
                    return value
        return None
    if isinstance(container, list) and isinstance(key, float | int) and not isinstance(key, bool):
        index = int(key)
        return container[index] if 0 <= index < len(container) else None
    return None


def _format(template: str, values: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group() == "{{":
            return "{"
        if match.group() == "}}":
            return "}"
        index = int(match.group(1))
        if index >= len(values):
            raise ExpressionError(f"format('{template}') names {{{index}}} but has "
                                  f"{len(values)} values")
        return values[index]

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", replace, template)


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "") if not isinstance(value, dict | list) else True


def _as_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return _number(text)
        except ValueError:
            return math.nan
    return math.nan


def loosely_equal(left: Any, right: Any) -> bool:
    """GitHub's `==`: case-insensitive for strings, numeric across types."""
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return left is right
    if type(left) is type(right) and not isinstance(left, float):
        return bool(left == right)
    return _as_number(left) == _as_number(right)


def to_string(value: Any) -> str:
    """A value as GitHub writes it into text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


def templates(text: str) -> list[tuple[int, int, str]]:
    """Each `${{ ... }}` of `text`: (start, end, the expression inside). A `}}` inside a quoted
    string does not close it."""
    found: list[tuple[int, int, str]] = []
    position = 0
    while True:
        start = text.find("${{", position)
        if start < 0:
            return found
        index, quoted = start + 3, False
        while index < len(text):
            if text[index] == "'":
                quoted = not quoted
            elif not quoted and text.startswith("}}", index):
                break
            index += 1
        else:
            raise ExpressionError(f"'{text[start:start + 40]}' has no closing }}}}")
        found.append((start, index + 2, text[start + 3:index].strip()))
        position = index + 2


def interpolate(text: str, contexts: Mapping[str, Any],
                status: StatusFn = lambda: "success") -> str:
    """`text` with each `${{ }}` replaced by its value as text."""
    pieces, position = [], 0
    for start, end, source in templates(text):
        pieces.append(text[position:start])
        pieces.append(to_string(evaluate(source, contexts, status)))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def condition(value: Any) -> Node:
    """The tree of an `if:` (bare or inside `${{ }}`), with GitHub's implicit success()."""
    if isinstance(value, bool):
        return ("call", "always", []) if value else ("lit", False)
    text = str(value).strip()
    found = templates(text)
    if len(found) == 1 and found[0][0] == 0 and found[0][1] == len(text):
        text = found[0][2]
    elif found:
        raise ExpressionError(f"if: '{text}' mixes text and ${{{{ }}}}; write one expression")
    node = parse(text)
    return node if uses_status_function(node) else ("and", ("call", "success", []), node)


def implicit_success(value: Any) -> bool:
    """Whether GitHub adds `success() &&` to this `if:` (it calls no status function)."""
    return condition(value)[:2] == ("and", ("call", "success", [])) and not isinstance(
        value, bool)
