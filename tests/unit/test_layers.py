"""Which package may import which: the product and the sandbox never import the test support,
and the product imports the sandbox only to start and stop it (`cli/sandbox.py`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def imported_packages(path: Path) -> set[str]:
    """The top-level packages `path` imports, at module level or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def importers(package: str, of: str) -> list[str]:
    """The modules of `package` (relative to src/) that import `of`."""
    return sorted(str(path.relative_to(SRC)) for path in (SRC / package).rglob("*.py")
                  if of in imported_packages(path))


@pytest.mark.parametrize("package", ["shipyard", "shipyard_sandbox"])
def test_shipped_code_never_imports_the_test_support(package: str) -> None:
    assert importers(package, "shipyard_testing") == []


def test_the_product_imports_the_sandbox_only_to_start_it() -> None:
    assert importers("shipyard", "shipyard_sandbox") == ["shipyard/cli/sandbox.py"]


def test_imported_packages_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os.path\n\ndef f():\n    from shipyard_testing import x\n")
    assert imported_packages(module) == {"os", "shipyard_testing"}
