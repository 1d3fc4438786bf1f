"""How option types read in `--help`: `TEXT`, `PATH`, `INTEGER`, and nothing for a flag.

This Typer release labels every option with its Python type (`<bool>`, `<str>`,
`<list[str]>`), so each flag looked as if it took a value. Click's words are what users of
command-line tools expect: a flag shows no type, a repeatable option its item's type.
"""

from __future__ import annotations

from typing import Any

import typer.core

_WORDS = {"str": "TEXT", "path": "PATH", "int": "INTEGER", "float": "FLOAT",
          "bool": "BOOLEAN", "file": "FILE", "directory": "DIRECTORY"}


def readable_type(label: str) -> str:
    """`<list[str]>` -> `TEXT`, `<path>` -> `PATH`; an unknown label keeps its own name."""
    bare = label.strip("<>")
    if bare.startswith("list[") and bare.endswith("]"):
        bare = bare[5:-1]
    return _WORDS.get(bare, bare.upper())


def install() -> None:
    """Patch Typer's option class once; safe to call again."""
    option = typer.core.TyperOption
    if getattr(option, "_shipyard_readable_types", False):
        return
    original = option.display_type_rich

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if self.is_flag or self.is_bool_flag:
            return None
        if self.metavar is not None:
            return self.metavar
        shown = original(self, ctx)
        return readable_type(shown) if shown else shown

    option.display_type_rich = display_type_rich  # type: ignore[method-assign]
    option._shipyard_readable_types = True  # type: ignore[attr-defined]
