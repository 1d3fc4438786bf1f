"""What the sandbox's ECS parts share: their environment, and the moto records they update.

moto's server answers from its task and service objects while the sandbox's threads change
them, so every change goes through `update` under one lock, and a list is replaced whole,
never changed in place, so that a response being serialized sees the old or the new list.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipyard_sandbox.runtime.images import ImageStore
from shipyard_sandbox.targets import TargetDirectory

LOCK = threading.RLock()


@dataclass
class Environment:
    """Everything a task needs from the sandbox around it."""

    account_id: str
    region: str
    images: ImageStore
    directory: TargetDirectory
    state_dir: Path  # the ECS part's own folder in the sandbox's state
    registry_hosts: frozenset[str] = field(default_factory=frozenset)

    @property
    def tasks_dir(self) -> Path:
        return self.state_dir / "tasks"

    @property
    def efs_dir(self) -> Path:
        return self.state_dir / "efs"

    def parse_image(self, image: str) -> tuple[str, str | None, str | None] | None:
        """(repository, tag, digest) of an image in the sandbox registry, or None for an image
        elsewhere (a public registry the sandbox cannot reach: such a container is not run).
        The sandbox registry is named by its own host or by the account's ECR host."""
        host, slash, rest = image.partition("/")
        if not slash or host not in self.registry_hosts:
            return None
        name, at, digest = rest.partition("@")
        repository, colon, tag = name.rpartition(":")
        if not colon or "/" in tag:
            repository, tag = name, ""
        return repository, tag or None, digest if at else None


def now() -> datetime:
    return datetime.now(UTC)


def update(record: Any, **values: Any) -> None:
    """Set attributes of a moto record (snake_case: moto's serializer finds them so)."""
    with LOCK:
        for key, value in values.items():
            setattr(record, key, value)


def task_ip(task: Any) -> str | None:
    """The private IP moto's ENI attachment reports for the task, if it has one."""
    for attachment in task.attachments or []:
        for detail in attachment.get("details", []):
            if detail.get("name") == "privateIPv4Address":
                return detail.get("value")
    return None
