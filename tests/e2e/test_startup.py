"""Start-up of the `shipyard` process: what help looks like where, and what is imported."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOX = "╭"  # rich draws help panels with box characters; plain help has none


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TYPER_USE_RICH")}
    return {**env, **extra}


def test_help_in_a_pipe_is_plain_text(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "shipyard", "--help"], cwd=tmp_path,
                            env=_env(), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: shipyard [OPTIONS] COMMAND")
    assert "push" in result.stdout and BOX not in result.stdout


def test_help_in_a_ci_log_is_plain_text_even_on_a_terminal(tmp_path: Path) -> None:
    output = _on_terminal([sys.executable, "-m", "shipyard", "--help"], tmp_path,
                          _env(CI="true"))
    assert "Usage: shipyard" in output and BOX not in output


def test_help_on_a_terminal_is_rich(tmp_path: Path) -> None:
    output = _on_terminal([sys.executable, "-m", "shipyard", "--help"], tmp_path, _env())
    assert "Usage" in output and BOX in output


def test_typer_use_rich_set_by_the_user_wins(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "shipyard", "--help"], cwd=tmp_path,
                            env=_env(TYPER_USE_RICH="1"), capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert BOX in result.stdout


def test_config_module_defers_its_work_until_a_config_is_loaded() -> None:
    """Importing the models builds no schema and reads nothing; loading still validates."""
    probe = (
        "import sys; import shipyard.config as c\n"
        "print(c.Config.__pydantic_complete__, 'tomllib' in sys.modules, "
        "'semver' in sys.modules)\n"
        "from pathlib import Path; config = c.load_config(Path('GamePulse'))\n"
        "print(config.service.repository, config.version.pull_request.prerelease)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=_env(),
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["False False False", "gamepulse pr-{pr}"]


def _on_terminal(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run `command` with stdout and stderr on a pseudo-terminal; return what it printed."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(command, cwd=cwd, env={**env, "TERM": "xterm"},
                               stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode(errors="replace")
