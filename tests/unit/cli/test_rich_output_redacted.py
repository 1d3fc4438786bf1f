"""What rich draws on a terminal (tables, progress bars, live views) is redacted like a line:
those bypass `Out._write`, so the console's own stream masks every write."""

from __future__ import annotations

import base64
import io

import pytest

from shipyard.cli.app import Out
from shipyard.cli.progress import PushProgress
from shipyard.redaction import SECRETS

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def out() -> Out:
    """An Out that believes it draws on a terminal (pytest captures its streams)."""
    out = Out()
    out.fancy = True
    SECRETS.register(SECRET)
    return out


def test_a_table_with_a_secret_in_a_cell_is_masked(out: Out, capsys) -> None:
    from rich.table import Table

    table = Table()
    table.add_column("label")
    table.add_row(f"token={SECRET}")
    table.add_row(base64.b64encode(f"AWS:{SECRET}".encode()).decode())
    out.console().print(table, width=300)
    printed = capsys.readouterr().out
    assert "token=" in printed and SECRET not in printed
    assert base64.b64encode(f"AWS:{SECRET}".encode()).decode() not in printed


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_naming_a_secret_is_masked(out: Out, monkeypatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with PushProgress(out) as progress:
        task = progress.bars.add_task(f"upload to https://x:{SECRET}@r.example.com", total=10)
        progress.bars.update(task, advance=5)
        progress.bars.refresh()
    printed = terminal.getvalue()
    assert "upload to" in printed and SECRET not in printed
