"""The CNCF distribution registry (`docker-registry`), run on loopback with basic auth."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import bcrypt
import httpx

REGISTRY_BINARY = "/usr/bin/docker-registry"
REGISTRY_USER = "AWS"  # ECR's basic-auth user name is always "AWS"


class RegistryProcess:
    """A registry with its storage, config and htpasswd under `root`."""

    def __init__(self, root: Path, port: int, password: str) -> None:
        self.root = root
        self.port = port
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        htpasswd = self.root / "htpasswd"
        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=5)).decode()
        htpasswd.write_text(f"{REGISTRY_USER}:{hashed}\n")
        htpasswd.chmod(0o600)
        config = self.root / "config.yml"
        # delete.enabled: BatchDeleteImage must really delete. The short upload purging keeps a
        # long-lived sandbox from filling the disk with abandoned uploads.
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.root / 'storage'}\n"
            "  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            "http:\n"
            f"  addr: {self.address}\n"
            "  headers:\n    X-Content-Type-Options: [nosniff]\n"
            "auth:\n"
            f"  htpasswd:\n    realm: shipyard-sandbox\n    path: {htpasswd}\n"
        )
        return config

    def start(self, timeout: float = 20.0) -> None:
        # moto's side lives in memory, so a registry kept from an earlier run would hold
        # images ECR no longer knows: every sandbox starts empty.
        shutil.rmtree(self.root / "storage", ignore_errors=True)
        config = self._write_config()
        log = (self.root / "registry.log").open("ab")
        self.process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited; see {self.root / 'registry.log'}")
            try:
                # 401 means it is up and asking for the credentials we configured.
                if httpx.get(f"http://{self.address}/v2/", timeout=1).status_code in (200, 401):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
