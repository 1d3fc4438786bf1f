"""Shipyard: release and deploy containerized services on AWS.

The public API is the use cases (one module per command under `shipyard.usecases`), the
configuration models and the error hierarchy; the CLI in `shipyard.cli` is a thin shell over
them.
"""

from shipyard.config import Config, load_config
from shipyard.errors import ExitCode, ShipyardError

__version__ = "0.1.0"

__all__ = ["Config", "ExitCode", "ShipyardError", "__version__", "load_config"]
