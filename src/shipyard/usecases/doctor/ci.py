"""Doctor's CI checks, in a GitHub Actions job: the checkout's history, the OIDC token a
role needs, and the output and summary files the commands write."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from shipyard.domain.diagnosis import Group

NAMES = ("checkout depth", "id-token", "outputs")


def check_ci(group: Group, project_dir: Path, env: Mapping[str, str]) -> None:
    if env.get("GITHUB_ACTIONS") != "true":
        for name in NAMES:
            group.skip(name, "not in GitHub Actions (GITHUB_ACTIONS is not true)")
        return
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=project_dir,
                             capture_output=True, text=True, check=False, timeout=30)
    if shallow.stdout.strip() == "true":
        group.fail("checkout depth", "the job checked out a shallow clone: versions need the "
                   "release tags and the commits since", "give actions/checkout "
                   "fetch-depth: 0")
    else:
        group.ok("checkout depth", "the whole history (fetch-depth: 0)")
    has_keys = bool(env.get("AWS_ACCESS_KEY_ID"))
    has_token = bool(env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
                     and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
    if has_token:
        group.ok("id-token", "the job may request an OIDC token (permissions: id-token: write)")
    elif has_keys:
        group.ok("id-token", "no OIDC token, but AWS credentials are set")
    else:
        group.fail("id-token", "the job can neither request an OIDC token nor has AWS "
                   "credentials", "give the job permissions: id-token: write, and assume the "
                   "deploy role with aws-actions/configure-aws-credentials")
    unwritable = [name for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")
                  if env.get(name) and not _writable(Path(env[name]))]
    if unwritable:
        group.fail("outputs", f"{', '.join(unwritable)} cannot be written",
                   "let the job write its runner's files (do not change their owner or mode)")
    else:
        given = [name for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY") if env.get(name)]
        group.ok("outputs", f"{', '.join(given) or 'no output files'} writable")


def _writable(path: Path) -> bool:
    # Checked without writing: the file (or, when absent, its folder) accepts writes.
    if path.exists():
        return path.is_file() and os.access(path, os.W_OK)
    return path.parent.is_dir() and os.access(path.parent, os.W_OK)
