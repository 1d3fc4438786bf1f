"""The CNCF distribution registry (`docker-registry`), run on loopback.

The sandbox runs one behind its ECR front, with basic auth. The integration tests and the
benchmarks start theirs through the same class, anonymous or with a user of their own, so the
registry's configuration is written in one place.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import bcrypt
import httpx

REGISTRY_BINARY = "/usr/bin/docker-registry"
REGISTRY_USER = "AWS"  # ECR's basic-auth user name is always "AWS"


class RegistryStartError(RuntimeError):
    """docker-registry is not installed, exited at start, or did not answer in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RegistryProcess:
    """A registry with its storage, config, htpasswd and log under `root`; a context manager.

    `port` 0 takes a free loopback port, and another if some other process takes it first.
    With a `password` the registry asks for htpasswd basic auth as `username`; without one it
    is anonymous. Every start begins with empty storage.
    """

    def __init__(self, root: Path, port: int = 0, password: str | None = None, *,
                 username: str = REGISTRY_USER) -> None:
        self.root = root
        self.port = port
        self.username = username
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """"127.0.0.1:PORT", as a registry host name."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def storage_dir(self) -> Path:
        return self.root / "storage"

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    @property
    def auth(self) -> tuple[str, str] | None:
        """(username, password) when the registry asks for basic auth, else None."""
        return None if self.password is None else (self.username, self.password)

    def start(self, timeout: float = 20.0) -> None:
        if not os.access(REGISTRY_BINARY, os.X_OK):
            raise RegistryStartError(f"{REGISTRY_BINARY} is not installed; install Debian's "
                                     "docker-registry (dev/bootstrap does)")
        # moto's side lives in memory, so a registry kept from an earlier run would hold
        # images ECR no longer knows: every sandbox starts empty.
        shutil.rmtree(self.storage_dir, ignore_errors=True)
        fixed_port = self.port
        # Another process may take a free port between our probe and the registry's bind.
        for _ in range(1 if fixed_port else 5):
            self.port = fixed_port or free_port()
            config = self._write_config()
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [REGISTRY_BINARY, "serve", str(config)], stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._wait_until_up(timeout):
                return
            self.stop()
        raise RegistryStartError(f"docker-registry did not start on {self.address} within "
                                 f"{timeout:.0f}s; its log {self.log_path} ends:\n"
                                 f"{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        """The last `lines` lines of the registry's log, for a failure message."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> RegistryProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.password is not None:
            htpasswd = self.root / "htpasswd"
            # The fewest rounds bcrypt allows: the registry checks the hash on every request,
            # and the passwords are random tokens, not words to guess.
            hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4)).decode()
            htpasswd.write_text(f"{self.username}:{hashed}\n")
            htpasswd.chmod(0o600)
            auth = f"auth:\n  htpasswd:\n    realm: shipyard-sandbox\n    path: {htpasswd}\n"
        config = self.root / "config.yml"
        # delete.enabled: BatchDeleteImage must really delete. Upload purging is off: storage
        # lives no longer than one sandbox or test, so its background walks would only cost
        # time. The http secret is set so that the registry does not warn it made one up.
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.storage_dir}\n"
            "  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            "http:\n"
            f"  addr: {self.address}\n"
            f"  secret: {secrets.token_hex(16)}\n"
            "  headers:\n    X-Content-Type-Options: [nosniff]\n"
            + auth
        )
        return config

    def _wait_until_up(self, timeout: float) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                # 401 means it is up and asking for the credentials we configured.
                answer = httpx.get(f"{self.url}/v2/", timeout=1.0, trust_env=False)
                if answer.status_code in (200, 401):
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        return False
