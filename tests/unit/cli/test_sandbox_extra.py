"""Without the `sandbox` extra, `shipyard sandbox` says which extra to install."""

from __future__ import annotations

import sys

from shipyard.cli import main


def test_a_missing_moto_names_the_sandbox_extra(monkeypatch, capsys, tmp_path) -> None:
    for name in [n for n in sys.modules if n == "moto" or n.startswith(("moto.",
                                                                     "shipyard_sandbox"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "moto", None)  # `import moto` now fails
    monkeypatch.setenv("SHIPYARD_SANDBOX_DIR", str(tmp_path))
    code = main(["sandbox", "env"])
    err = capsys.readouterr().err
    assert code == 12 and "pip install 'shipyard[sandbox]'" in err and "moto" in err, err
    assert len(err.splitlines()) == 1
