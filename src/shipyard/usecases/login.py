"""`shipyard login`: check the ECR login works; write a docker credential only when asked.

The token is a secret: by default it stays in memory and is only used to prove the registry
accepts it. `--docker-config` merges it into a docker `config.json` (mode 0600) for tools that
need it, such as `docker buildx` pulling private base images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.adapters.credentials import RegistryLogin
from shipyard.adapters.files import write_atomically
from shipyard.config import Config
from shipyard.errors import UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.target import Target, resolve_target


@dataclass(frozen=True)
class LoginResult:
    target: Target
    docker_config: Path | None

    def to_json(self) -> dict[str, Any]:
        return {"registry": self.target.registry, "account_id": self.target.account_id,
                "region": self.target.region,
                "docker_config": str(self.docker_config) if self.docker_config else None}


def login(config: Config, ctx: Context, docker_config: Path | None = None) -> LoginResult:
    """Get an ECR token, prove the registry accepts it, and optionally store it for docker."""
    target = resolve_target(config, ctx)
    credentials = ctx.ecr.login(target.account_id).for_host(target.registry)
    with ctx.registry(target.registry, auth=credentials) as client:
        client.check_auth()
    if docker_config is not None:
        write_docker_credential(docker_config, credentials)
    return LoginResult(target, docker_config)


def write_docker_credential(path: Path, login: RegistryLogin) -> None:
    """Merge one `auths` entry into a docker config file, atomically and readable only by us."""
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text() or "{}")
        except (ValueError, OSError) as exc:
            raise UsageError(f"{path} cannot be read as JSON ({exc.__class__.__name__}); fix "
                             "or remove it before logging in") from exc
        if not isinstance(data, dict) or not isinstance(data.get("auths", {}), dict):
            raise UsageError(f"{path} is not a docker config (an object with an 'auths' "
                             "object); fix or remove it before logging in")
    data.setdefault("auths", {})[login.host] = {"auth": login.token()}
    write_atomically(path, json.dumps(data, indent=2), mode=0o600)
