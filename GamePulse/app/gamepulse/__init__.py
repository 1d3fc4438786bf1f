"""GamePulse: a game-telemetry HTTP API (standard library only).

Endpoints: ``GET /health``, ``GET /version``, ``GET /metrics``,
``POST|GET /v1/matches/{match_id}/events``, ``GET /v1/matches/{match_id}/summary``.
Run it with ``python -m gamepulse``; configuration comes from the environment
(see :mod:`gamepulse.config`).
"""

from gamepulse.config import Config
from gamepulse.server import GamePulseServer, create_server, main

__all__ = ["Config", "GamePulseServer", "create_server", "main"]
