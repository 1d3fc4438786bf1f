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

from shipyard.adapters.files import write_atomically
from shipyard.adapters.text_files import read_user_text
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
    # The docker config is read and checked first: a folder, a FIFO or broken JSON there is
    # refused before any AWS or registry request, not after the login was made.
    existing = read_docker_config(docker_config) if docker_config is not None else {}
    target = resolve_target(config, ctx)
    credentials = ctx.ecr.login(target.account_id).for_host(target.registry)
    with ctx.registry(target.registry, auth=credentials) as client:
        client.check_auth()
    if docker_config is not None:
        existing.setdefault("auths", {})[credentials.host] = {"auth": credentials.token()}
        write_atomically(docker_config, json.dumps(existing, indent=2), mode=0o600)
    return LoginResult(target, docker_config)


def read_docker_config(path: Path) -> dict[str, Any]:
    """The docker config `--docker-config` names, to merge one `auths` entry into ({} when it
    is new); a file that cannot be one, or a new file whose folder is missing, is refused."""
    fix = "fix or remove it, or pass another --docker-config"
    if not path.exists() and not path.is_symlink():
        if not path.parent.is_dir():
            raise UsageError(f"--docker-config {path} is in a folder that does not exist; "
                             "create the folder or pass another --docker-config")
        return {}
    text = read_user_text(path, limit=10_000_000, error=UsageError,
                          fix=f"--docker-config must be a docker config.json; {fix}")
    try:
        data = json.loads(text or "{}")
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"--docker-config {path} cannot be read as JSON "
                         f"({exc.__class__.__name__}); {fix}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("auths", {}), dict):
        raise UsageError(f"--docker-config {path} is not a docker config (an object with an "
                         f"'auths' object); {fix}")
    return data
