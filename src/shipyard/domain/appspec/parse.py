"""Read an AppSpec, JSON or YAML, noting repeated keys that both parsers would drop silently."""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

import yaml

from shipyard.domain.appspec.shown import key as shown_key

# Python's parsers recurse once per level; an AppSpec is about six levels deep.
_TOO_DEEP = ("nested too deeply for an AppSpec (lists or mappings inside each other hundreds "
             "of levels down); an AppSpec is a few levels deep, check that this is the file")


def parse_appspec(text: str) -> tuple[Any, list[str]]:
    """Read an AppSpec, JSON or YAML by its content: (document, problems reading it).

    Repeated keys are reported: both parsers would otherwise keep the last one silently.
    """
    if not text.strip():
        return None, ["the file is empty; an AppSpec needs version, Resources and Hooks"]
    repeated: list[str] = []
    if text.lstrip().startswith(("{", "[")):
        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [key for key, _ in items]
            repeated.extend(key for key in dict.fromkeys(keys) if keys.count(key) > 1)
            return dict(items)
        try:
            document = json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            return None, [f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]
        except RecursionError:
            return None, [_TOO_DEEP]
    else:
        loader = _StrictLoader(text)
        try:
            document = loader.get_single_data()
        except yaml.YAMLError as exc:
            return None, [f"not valid YAML ({_yaml_problem(exc)})"]
        except RecursionError:
            return None, [_TOO_DEEP]
        finally:
            loader.dispose()
        repeated = loader.repeated
    return document, [f"key {shown_key(key)} appears twice; keep one" for key in repeated]


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that notes repeated mapping keys instead of dropping all but the last."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeated: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode,
                          deep: bool = False) -> dict[Hashable, Any]:
        keys = [self.construct_object(key, deep=True) for key, _ in node.value]
        hashable = [key for key in keys if isinstance(key, str | int | float | bool)]
        self.repeated.extend(str(k) for k in dict.fromkeys(hashable) if hashable.count(k) > 1)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, without the lines PyYAML quotes: the file may hold secrets."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot be read"
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())


def top_level_lines(text: str) -> dict[str, int]:
    """The line of each top-level key (JSON is read as YAML here), for problems to name."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    return {str(key.value): key.start_mark.line + 1 for key, _ in root.value
            if isinstance(key, yaml.ScalarNode)}
