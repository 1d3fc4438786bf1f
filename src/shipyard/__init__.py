"""Shipyard: release and deploy containerized services on AWS.

The public API is the use cases (one module per command under `shipyard.usecases`), the
configuration models and the error hierarchy; the CLI in `shipyard.cli` is a thin shell over
them. Names are loaded on first use, so `import shipyard` costs nothing until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Config", "ExitCode", "ShipyardError", "__version__", "load_config"]

_LAZY = {"Config": "shipyard.config", "load_config": "shipyard.config",
         "ExitCode": "shipyard.errors", "ShipyardError": "shipyard.errors"}

if TYPE_CHECKING:
    from shipyard.config import Config, load_config
    from shipyard.errors import ExitCode, ShipyardError


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
