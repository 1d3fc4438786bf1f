"""What a container runs, worked out as ECS's agent and Docker do from the image config and
the task definition's container definition.

- command line: a definition `entryPoint` replaces the image's Entrypoint and then the image's
  Cmd is dropped (Docker's rule); `command` replaces Cmd. Nothing left is an error.
- environment: the image's Env, then the definition's `environment` over it (the definition
  wins); PATH and HOME get Docker's defaults when neither sets them.
- `workingDirectory` over the image's WorkingDir over "/"; `user` over the image's User over
  root, as "name", "uid", "name:group" or "uid:gid", names read from the rootfs's
  /etc/passwd and /etc/group (a numeric uid need not be listed, as in Docker).
- `mountPoints`: each `sourceVolume` must be one of the task's volumes, given as host folders
  (where a task's volume lives is the caller's choice); `readOnly` is kept.
  `readonlyRootFilesystem` makes the container's root read-only (its volumes stay writable).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard_sandbox.runtime.images import Image
from shipyard_sandbox.runtime.layers import LayerError, entry_parts, resolve_inside

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ContainerStartError(RuntimeError):
    """The container cannot start (ECS: CannotStartContainerError); the message says why."""


@dataclass(frozen=True)
class Mount:
    """A host folder bind-mounted at `target` (an absolute path in the container)."""

    source: Path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class LaunchPlan:
    """A container's process as the in-namespace starter runs it."""

    name: str
    rootfs: Path
    argv: list[str]
    env: dict[str, str]
    cwd: str
    uid: int
    gid: int
    groups: list[int] = field(default_factory=list)
    stop_signal: int = signal.SIGTERM
    mounts: list[Mount] = field(default_factory=list)
    read_only_root: bool = False


def plan(image: Image, definition: dict[str, Any],
         volumes: dict[str, Path] | None = None) -> LaunchPlan:
    """The LaunchPlan of a container definition (ECS's shape: `name`, `entryPoint`,
    `command`, `environment`, `workingDirectory`, `user`, `mountPoints`,
    `readonlyRootFilesystem`) running `image`; `volumes` maps the task's volume names to
    host folders."""
    config = image.config
    name = definition.get("name", "container")
    entry_point = definition.get("entryPoint")
    if entry_point:
        argv = [*entry_point, *(definition.get("command") or [])]
    else:
        argv = [*(config.get("Entrypoint") or []),
                *(definition.get("command") or config.get("Cmd") or [])]
    if not argv:
        raise ContainerStartError(f"container {name}: no command specified (neither the image "
                                  "nor the container definition gives one)")
    env = dict(_split_env(item) for item in config.get("Env") or [])
    env.update({item["name"]: item.get("value", "")
                for item in definition.get("environment") or []})
    uid, gid, groups, home = resolve_user(
        image.rootfs, definition.get("user") or config.get("User") or "0", name)
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOME", home)
    cwd = definition.get("workingDirectory") or config.get("WorkingDir") or "/"
    if not cwd.startswith("/"):
        raise ContainerStartError(f"container {name}: workingDirectory {cwd!r} is not an "
                                  "absolute path")
    return LaunchPlan(name, image.rootfs, argv, env, cwd, uid, gid, groups,
                      _stop_signal(config.get("StopSignal"), name),
                      _mounts(definition.get("mountPoints") or [], volumes or {}, name),
                      bool(definition.get("readonlyRootFilesystem")))


def _mounts(points: list[dict[str, Any]], volumes: dict[str, Path],
            container: str) -> list[Mount]:
    mounts = []
    for point in points:
        name, target = point.get("sourceVolume"), point.get("containerPath", "")
        if name not in volumes:
            raise ContainerStartError(f"container {container}: mount point {target!r} names "
                                      f"the volume {name!r}, which the task does not have")
        if not target.startswith("/"):
            raise ContainerStartError(f"container {container}: containerPath {target!r} is "
                                      "not an absolute path")
        mounts.append(Mount(volumes[name], target, bool(point.get("readOnly"))))
    return mounts


def resolve_user(rootfs: Path, user: str, container: str) -> tuple[int, int, list[int], str]:
    """(uid, gid, supplementary gids, home) of `user` in the image."""
    who, _, group = user.partition(":")
    passwd = _table(rootfs, "etc/passwd")
    groups = _table(rootfs, "etc/group")
    entry = next((row for row in passwd if who in (row[0], row[2])), None)
    if entry is None and not who.isdigit():
        raise ContainerStartError(f"container {container}: user {who!r} is not in the "
                                  "image's /etc/passwd")
    uid = int(entry[2]) if entry else int(who)
    gid = int(entry[3]) if entry and entry[3].isdigit() else 0
    home = entry[5] if entry and len(entry) > 5 and entry[5] else "/"
    if group:
        row = next((r for r in groups if group in (r[0], r[2])), None)
        if row is None and not group.isdigit():
            raise ContainerStartError(f"container {container}: group {group!r} is not in the "
                                      "image's /etc/group")
        gid = int(row[2]) if row else int(group)
    member_of = [int(r[2]) for r in groups
                 if entry and len(r) > 3 and entry[0] in r[3].split(",") and r[2].isdigit()]
    return uid, gid, sorted({gid, *member_of}), home


def _table(rootfs: Path, relative: str) -> list[list[str]]:
    """A colon-separated table of the rootfs, read without following a link out of it."""
    parts = entry_parts(relative)
    try:
        path = resolve_inside(rootfs, parts[:-1], relative) / parts[-1]
        if path.is_symlink():
            path = resolve_inside(rootfs, parts, relative)
        text = path.read_text(errors="replace") if path.is_file() else ""
    except (LayerError, OSError):
        text = ""
    return [line.split(":") for line in text.splitlines()[:100_000]
            if line and not line.startswith("#")]


def _split_env(item: str) -> tuple[str, str]:
    key, _, value = item.partition("=")
    return key, value


def _stop_signal(value: str | None, container: str) -> int:
    if not value:
        return signal.SIGTERM
    name = value.upper()
    if name.isdigit():
        return int(name)
    try:  # by name: Signals("SIGTERM") looks the value up, and fails
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError as error:
        raise ContainerStartError(f"container {container}: unknown StopSignal {value!r} in "
                                  "the image config") from error
