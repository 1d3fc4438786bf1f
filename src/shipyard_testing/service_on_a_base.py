"""A service built FROM a private base image in the sandbox's ECR, as GamePulse is: the base
pushed to `<target>-base`, then a commit whose Dockerfile starts FROM it by digest."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from shipyard_testing.oci_layouts import write_oci_layout
from shipyard_testing.rebuilt_layers import text_layer


def commit_service_on_a_base(repo: Any, shipyard: Any, target: str, tmp_path: Path) -> Path:
    """Push a one-layer base to `<target>-base` and commit a service built FROM it (its
    `BASE_IMAGE` build arg names `${registry}`); the base's layout folder."""
    if shutil.which("buildah") is None:
        pytest.fail("buildah is not installed; run dev/bootstrap")
    base_layout = write_oci_layout(tmp_path / "base", base=None, ref_name=None,
                                   layers=[text_layer("etc/os-release", "ID=debian")])
    pushed_base = shipyard(repo, "push", "--from-oci", str(base_layout), "--json",
                           env={"ECR_REPOSITORY": f"{target}-base"})
    assert pushed_base.code == 0, pushed_base.err
    repo.commit("service", Dockerfile="ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"
                "COPY hello.txt /srv/hello.txt\n", hello__txt="hello\n",
                shipyard__toml='[build.args]\nBASE_IMAGE = "${registry}/'
                f'{target}-base@{pushed_base.json()["digest"]}"\n')
    return base_layout
