"""`shipyard sandbox` refusals that need no sandbox: a missing extra, a bad time scale."""

from __future__ import annotations

import sys

import pytest

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


@pytest.mark.parametrize("value", ["0.5", "0", "-3", "nan", "inf"])
def test_a_time_scale_below_one_or_not_finite_is_refused_before_starting(
        value, capsys, tmp_path) -> None:
    state = tmp_path / "state"
    code = main(["sandbox", "up", "--time-scale", value, "--state-dir", str(state)])
    err = capsys.readouterr().err
    assert code == 2 and "--time-scale" in err and len(err.splitlines()) == 1, err
    assert not state.exists()  # nothing started, nothing written
