"""Build plans: paths checked and build args filled before anything is built."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from shipyard.adapters.credentials import RegistryLogin
from shipyard.config import load_config
from shipyard.errors import UsageError
from shipyard.usecases.build import build_args, plan_build

PLAN = SimpleNamespace(
    version=SimpleNamespace(decision=SimpleNamespace(version="1.2.0"),
                            source=SimpleNamespace(sha="c" * 40, commit_time=datetime(
                                2026, 1, 2, tzinfo=UTC))),
    plan=SimpleNamespace(labels={"org.opencontainers.image.version": "1.2.0"}))


def project(tmp_path: Path, args: str = "") -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "shipyard.toml").write_text(f"[build.args]\n{args}")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ('BASE = "${BASE_IMAGE}"', {"BASE_IMAGE": "debian:12"}, "debian:12"),
        ('BASE = "${BASE_IMAGE:-debian:12}"', {}, "debian:12"),  # the default when unset
        ('BASE = "${BASE_IMAGE:-debian:12}"', {"BASE_IMAGE": ""}, "debian:12"),  # or empty
        ('BASE = "${REG}/base:${TAG:-1}"', {"REG": "127.0.0.1:5000"}, "127.0.0.1:5000/base:1"),
        ('BASE = "plain"', {}, "plain"),
    ],
)
def test_build_args(tmp_path: Path, args: str, env: dict, expected: str) -> None:
    config = load_config(project(tmp_path, args))
    filled = build_args(config, PLAN, env)
    assert filled == {"BASE": expected, "VERSION": "1.2.0", "REVISION": "c" * 40}


def test_unset_variable_names_the_arg(tmp_path: Path) -> None:
    config = load_config(project(tmp_path, 'BASE = "${NOPE}"'))
    with pytest.raises(UsageError, match=r"build arg BASE uses \$\{NOPE\}, which is not set"):
        build_args(config, PLAN, {})


def test_plan(tmp_path: Path) -> None:
    config = load_config(project(tmp_path))
    login = RegistryLogin("AWS", "secret", host="127.0.0.1:5000")
    build = plan_build(config, PLAN, ("linux/amd64", "linux/arm64"), {}, login)
    request = build.request
    assert request.platforms == ("linux/amd64", "linux/arm64")
    assert request.source_date_epoch == int(datetime(2026, 1, 2, tzinfo=UTC).timestamp())
    assert request.insecure_registries == ("127.0.0.1:5000",)
    assert request.labels == {"org.opencontainers.image.version": "1.2.0"}
    assert "secret" not in repr(request)
    ecr = RegistryLogin("AWS", "s", host="1.dkr.ecr.x.amazonaws.com")
    assert plan_build(config, PLAN, ("linux/amd64",), {}, ecr).request.insecure_registries == ()


def test_missing_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('[build]\ndockerfile = "Nope"\n')
    with pytest.raises(UsageError, match=r"Dockerfile .*Nope does not exist"):
        plan_build(load_config(tmp_path), PLAN, ("linux/amd64",), {})
