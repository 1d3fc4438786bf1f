"""Daemonless builds with buildah: chroot isolation, vfs storage, our own storage root.

Why these settings: chroot isolation and the vfs driver need no daemon, no overlay mounts and
no user-namespace setup, so the same build runs on a laptop, in a CI container and here. vfs
copies each layer in full, which is slow for big images but always works; the storage root is
ours (`$XDG_CACHE_HOME/shipyard/buildah` unless given), so base images stay cached between
builds and nothing depends on /etc/containers/storage.conf.

One build, for platforms P1..Pn (each a separate `buildah build --platform`, so a failure
names its platform)::

    buildah <globals> build --isolation chroot --format oci --platform P ... --tag T_P CONTEXT
    # one platform: the layout's single entry is the image manifest itself
    buildah <globals> push --format oci T_P oci:STAGING
    # several: an image index whose children carry their platform
    buildah <globals> manifest create L
    buildah <globals> manifest add L containers-storage:T_P      (for each P)
    buildah <globals> manifest push --all --format oci L oci:STAGING
    buildah <globals> manifest rm L ; buildah <globals> rmi T_P...   (always, even on failure)

A single platform gives a plain image manifest, not a one-child index, because that is what
`docker buildx build --platform X --output type=oci` gives and what `docker push` of a
single-arch image puts in a registry; ECR scans it as is. Reproducibility: `--timestamp`
(buildah >= 1.20) sets the created time of the config, the history and every file in the
layers, so identical inputs give identical digests; SOURCE_DATE_EPOCH is also passed as a
build argument, as buildx does, for Dockerfiles that use it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from shipyard.domain.platforms import Platform, parse_platforms
from shipyard.errors import BuildError

from .buildah_config import BuildahConfig, buildah_config
from .buildah_errors import parse_failure, translate
from .layout import check_inputs, staged_layout
from .request import BuildRequest, BuildResult, redacted
from .runner import CommandRunner, run_command

INSTALL_HINT = "install it (apt-get install buildah) or use docker buildx"


def default_storage() -> Path:
    """`$XDG_CACHE_HOME/shipyard/buildah`, falling back to `~/.cache/shipyard/buildah`."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "shipyard" / "buildah"


class BuildahBuilder:
    """Builds OCI layouts with the `buildah` CLI; see the module docstring for the commands."""

    name = "buildah"

    def __init__(
        self,
        storage: Path | None = None,
        *,
        runner: CommandRunner = run_command,
        executable: str = "buildah",
        layers: bool = False,
    ) -> None:
        # layers=False: with vfs every cached layer is a full copy of the file system, and CI
        # machines start empty anyway. Turn it on for quick local rebuilds.
        self.storage = storage or default_storage()
        self.runner = runner
        self.executable = executable
        self.layers = layers

    def available(self) -> bool:
        return self.runner([self.executable, "--version"], timeout=30).returncode == 0

    def build(self, request: BuildRequest) -> BuildResult:
        platforms = parse_platforms(request.platforms)
        check_inputs(request)
        if not self.available():
            raise BuildError(f"the 'buildah' command is not installed or does not run; "
                             f"{INSTALL_HINT}")
        run_id = uuid.uuid4().hex[:12]
        built: list[str] = []
        manifest_list = f"localhost/shipyard-list-{run_id}:latest"
        with buildah_config(request.registry_auth, request.insecure_registries) as config:
            self._write_storage_conf(config)
            env = self.env(request, config)
            try:
                for platform in platforms:
                    tag = f"localhost/shipyard-build-{run_id}:{platform.slug}"
                    self._build_one(request, platform, tag, config, env)
                    built.append(tag)
                with staged_layout(request.output) as staging:
                    self._write_layout(request, built, manifest_list, staging, config, env)
            finally:
                self._remove(built, manifest_list if len(built) > 1 else None, config, env)
        return BuildResult(request.output, tuple(str(p) for p in platforms), self.name)

    # --- the commands --------------------------------------------------------------------

    def global_argv(self, config: BuildahConfig) -> list[str]:
        """Flags before the subcommand: our storage and our registries configuration."""
        return [
            self.executable,
            "--root", str(self.storage / "root"),
            "--runroot", str(self.storage / "run"),
            "--storage-driver", "vfs",
            *config.global_flags(),
        ]

    def build_argv(
        self, request: BuildRequest, platform: Platform, tag: str, config: BuildahConfig
    ) -> list[str]:
        argv = [
            *self.global_argv(config), "build",
            "--isolation", "chroot",
            "--format", "oci",
            "--platform", str(platform),
            f"--layers={'true' if self.layers else 'false'}",
            # No io.buildah.version label: the image's labels are the Dockerfile's and ours,
            # as with buildx, and a buildah upgrade alone does not change the digest.
            "--identity-label=false",
        ]
        build_args = dict(request.build_args)
        if request.source_date_epoch is not None:
            argv += ["--timestamp", str(request.source_date_epoch)]
            build_args.setdefault("SOURCE_DATE_EPOCH", str(request.source_date_epoch))
        for key, value in sorted(build_args.items()):
            argv += ["--build-arg", f"{key}={value}"]
        for key, value in sorted(request.labels.items()):
            argv += ["--label", f"{key}={value}"]
        if config.authfile is not None:
            argv += ["--authfile", str(config.authfile)]
        argv += [*config.policy_flags(), "--tag", tag,
                 "--file", str(request.dockerfile), str(request.context)]
        return argv

    def env(self, request: BuildRequest, config: BuildahConfig) -> dict[str, str]:
        """Environment for every buildah command; the flags say the same, this covers helpers."""
        env = {
            "BUILDAH_ISOLATION": "chroot",
            "STORAGE_DRIVER": "vfs",
            # Keep a system or user storage.conf (additional image stores, mount programs) out.
            "CONTAINERS_STORAGE_CONF": str(config.folder / "storage.conf"),
        }
        if request.source_date_epoch is not None:
            env["SOURCE_DATE_EPOCH"] = str(request.source_date_epoch)
        return env

    def _build_one(
        self, request: BuildRequest, platform: Platform, tag: str, config: BuildahConfig,
        env: dict[str, str],
    ) -> None:
        result = self.runner(self.build_argv(request, platform, tag, config), env=env)
        if result.returncode != 0:
            error = translate(
                result.stderr, platform=platform, dockerfile=request.dockerfile,
                context=request.context, storage=self.storage,
            )
            raise redacted(error, request)

    def _write_layout(
        self, request: BuildRequest, built: Sequence[str], manifest_list: str, staging: Path,
        config: BuildahConfig, env: dict[str, str],
    ) -> None:
        g, policy, dest = self.global_argv(config), config.policy_flags(), f"oci:{staging}"
        if len(built) == 1:
            steps = [("push", [*g, "push", "--format", "oci", *policy, built[0], dest])]
        else:
            steps = [("manifest create", [*g, "manifest", "create", manifest_list])]
            steps += [("manifest add", [*g, "manifest", "add", manifest_list,
                                        f"containers-storage:{tag}"]) for tag in built]
            steps += [("manifest push", [*g, "manifest", "push", "--all", "--format", "oci",
                                         *policy, manifest_list, dest])]
        for step, argv in steps:
            result = self.runner(argv, env=env)
            if result.returncode != 0:
                detail = parse_failure(result.stderr).detail
                raise redacted(BuildError(
                    f"buildah built the image but could not write the OCI layout {request.output}"
                    f" (buildah {step}): {detail}; check free disk space and write permission"
                ), request)

    def _remove(
        self, built: Sequence[str], manifest_list: str | None, config: BuildahConfig,
        env: dict[str, str],
    ) -> None:
        """Drop our tags from the storage: the layout is the product, base images stay cached."""
        g = self.global_argv(config)
        if manifest_list:
            self.runner([*g, "manifest", "rm", manifest_list], env=env)
        if built:
            self.runner([*g, "rmi", *built], env=env)

    def _write_storage_conf(self, config: BuildahConfig) -> None:
        root, run = json.dumps(str(self.storage / "root")), json.dumps(str(self.storage / "run"))
        (config.folder / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = {root}\nrunroot = {run}\n'
        )

