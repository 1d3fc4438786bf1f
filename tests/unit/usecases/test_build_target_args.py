"""Build args that name the push target: `plan_build` hands `${registry}`, `${account_id}` and
`${region}` the registry it logs in to, and GamePulse finds its base image there."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from shipyard.adapters.credentials import RegistryLogin
from shipyard.config import load_config
from shipyard.errors import ConfigError
from shipyard.usecases.build import plan_build

ROOT = Path(__file__).resolve().parents[3]
PLAN = SimpleNamespace(version=SimpleNamespace(decision=SimpleNamespace(version="1.2.3"),
                                               source=None),
                       plan=SimpleNamespace(labels={}))
ARGS = 'R = "${registry}"\nA = "${account_id}"\nG = "${region}"\n'
SANDBOX = "127.0.0.1:5000"
ECR = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"


def login(host: str) -> RegistryLogin:
    return RegistryLogin("AWS", "token", host=host)


def project(tmp_path: Path, args: str) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "shipyard.toml").write_text(f"[build.args]\n{args}")
    return tmp_path


@pytest.mark.parametrize(("host", "env", "keywords", "expected"), [
    # an ECR host names its account and region
    (ECR, {}, {}, (ECR, "210987654321", "eu-west-1")),
    # the sandbox's registry does not: AWS_ACCOUNT_ID, and the region Shipyard uses
    (SANDBOX, {"AWS_ACCOUNT_ID": "123456789012", "AWS_REGION": "us-east-1"}, {},
     (SANDBOX, "123456789012", "us-east-1")),
    (SANDBOX, {"AWS_ACCOUNT_ID": "123456789012"}, {},
     (SANDBOX, "123456789012", "ap-northeast-2")),  # service.region's default
    # what the caller resolved wins
    (SANDBOX, {"AWS_ACCOUNT_ID": "1"}, {"account_id": "111122223333", "region": "eu-north-1"},
     (SANDBOX, "111122223333", "eu-north-1")),
])
def test_target_names(tmp_path: Path, host: str, env: dict, keywords: dict,
                      expected: tuple[str, str, str]) -> None:
    config = load_config(project(tmp_path, ARGS))
    args = plan_build(config, PLAN, ("linux/amd64",), env, login(host), **keywords
                      ).request.build_args
    assert (args["R"], args["A"], args["G"]) == expected


def test_a_misspelt_target_name_is_a_config_error(tmp_path: Path) -> None:
    config = load_config(project(tmp_path, 'BASE = "${GP_BASE:-${regsitry}/base:1}"\n'))
    with pytest.raises(ConfigError, match=r"build arg BASE uses \$\{regsitry\}"):
        plan_build(config, PLAN, ("linux/amd64",), {"GP_BASE": "x"}, login(SANDBOX))


@pytest.mark.parametrize(("host", "env", "expected"), [
    # after dev/demo the sandbox's registry holds the base image: nothing to export
    (SANDBOX, {}, f"{SANDBOX}/gamepulse-base:bookworm"),
    (ECR, {}, f"{ECR}/gamepulse-base:bookworm"),  # a team that mirrors the base into ECR
    (ECR, {"GAMEPULSE_BASE_IMAGE": "mirror.example/base:1"}, "mirror.example/base:1"),
])
def test_gamepulse_base_image_comes_from_the_push_target(host: str, env: dict,
                                                         expected: str) -> None:
    config = load_config(ROOT / "GamePulse")
    args = plan_build(config, PLAN, ("linux/amd64",), env, login(host)).request.build_args
    assert args["BASE_IMAGE"] == expected
    # where the demo pushes the base image, so that the two cannot drift apart
    demo = config.demo
    if not env:
        assert expected == f"{host}/{demo.base_image_repository}:{demo.base_image_tag}"
