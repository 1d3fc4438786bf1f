"""Settings, read from the environment.

==========================  =========================================================
``PORT``                    TCP port (default 8080; 0 picks a free one)
``GAMEPULSE_HOST``          bind address (default ``0.0.0.0``)
``GAMEPULSE_DATA_DIR``      directory for JSON-lines persistence (the EFS mount in
                            production); unset keeps events in memory only
``GAMEPULSE_FSYNC``         ``1`` to fsync every stored event (default ``0``)
``GAMEPULSE_VERSION``       version reported by ``/version``; when unset or empty, the
                            ``VERSION`` file (``GAMEPULSE_VERSION_FILE``) is read
``GAMEPULSE_REVISION``      git commit reported by ``/version``
``GAMEPULSE_SHUTDOWN_GRACE`` seconds to let in-flight requests finish on SIGTERM (10)
``GAMEPULSE_INSTANCE_ID``   names this process's data file (default: host name and pid)
==========================  =========================================================
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
UNKNOWN = "unknown"


class ConfigError(ValueError):
    """A setting has a bad value; the message names the variable and what is expected."""


def _version_files() -> list[Path]:
    # In the image: /app/VERSION next to the package. In the repository: GamePulse/version.txt.
    return [PACKAGE_DIR.parent / "VERSION", PACKAGE_DIR.parent.parent / "version.txt"]


def read_version(env: dict[str, str]) -> str:
    value = env.get("GAMEPULSE_VERSION", "").strip()
    if value:
        return value
    explicit = env.get("GAMEPULSE_VERSION_FILE", "").strip()
    for path in [Path(explicit)] if explicit else _version_files():
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if text:
            return text.splitlines()[0].strip()
    return UNKNOWN


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; set it to {low}..{high}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range; set it to {low}..{high}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise ConfigError(f"{name}={value} is out of range; set it to 0..3600 seconds")
    return value


def _bool(env: dict[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r} is not a boolean; use 1 or 0")


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 8080
    data_dir: Path | None = None
    fsync: bool = False
    version: str = UNKNOWN
    revision: str = UNKNOWN
    shutdown_grace: float = 10.0
    instance_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        data_dir = env.get("GAMEPULSE_DATA_DIR", "").strip()
        instance = env.get("GAMEPULSE_INSTANCE_ID", "").strip()
        kwargs = {}
        if instance:
            kwargs["instance_id"] = instance
        return cls(
            host=env.get("GAMEPULSE_HOST", "").strip() or "0.0.0.0",
            port=_int(env, "PORT", 8080, 0, 65535),
            data_dir=Path(data_dir) if data_dir else None,
            fsync=_bool(env, "GAMEPULSE_FSYNC"),
            version=read_version(env),
            revision=env.get("GAMEPULSE_REVISION", "").strip() or UNKNOWN,
            shutdown_grace=_float(env, "GAMEPULSE_SHUTDOWN_GRACE", 10.0),
            **kwargs,
        )
