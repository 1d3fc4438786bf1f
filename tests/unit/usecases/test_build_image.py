"""`shipyard build`'s use case on a real git repository with a fake builder: AWS is asked only
when a build arg needs the registry or the account, the builder gets push's labels and build
args, and the layout it wrote is checked and described."""

from __future__ import annotations

import shutil

import pytest

from shipyard.adapters.builders import BuildRequest, BuildResult, RegistryLogin
from shipyard.adapters.git import Git
from shipyard.config import load_config
from shipyard.errors import ShipyardError, UsageError
from shipyard.usecases.build_image import BuildImageOptions, build_image, needs_push_target
from shipyard.usecases.context import Context
from shipyard_testing.oci_layouts import write_oci_layout


class FakeBuilder:
    """Writes a real OCI layout where it is told, and keeps the request."""

    name = "fake"

    def __init__(self) -> None:
        self.requests: list[BuildRequest] = []

    def available(self) -> bool:
        return True

    def build(self, request: BuildRequest) -> BuildResult:
        self.requests.append(request)
        shutil.rmtree(request.output, ignore_errors=True)
        write_oci_layout(request.output, request.platforms)
        return BuildResult(request.output, request.platforms, self.name)


class Refused:
    """Any AWS adapter: a call is a test failure."""

    def __getattr__(self, name: str):
        raise AssertionError(f"AWS was asked ({name}) though no build arg needs it")


class FakeEcr:
    def __init__(self) -> None:
        self.logins: list[str | None] = []

    def login(self, registry_id: str | None = None) -> RegistryLogin:
        self.logins.append(registry_id)
        return RegistryLogin("AWS", "t0k", host="123456789012.dkr.ecr.ap-northeast-2.amazonaws.com")


def _config(repo, args: str):
    repo.commit("service", Dockerfile="ARG BASE\nFROM ${BASE}\n",
                shipyard__toml=f"[build.args]\n{args}\n")
    return load_config(repo.project)


@pytest.mark.parametrize("args, env, needed", [
    ('BASE = "${registry}/base:12"', {}, True),
    ('BASE = "${BASE_IMAGE:-${registry}/base:12}"', {}, True),
    ('BASE = "${BASE_IMAGE:-${registry}/base:12}"', {"BASE_IMAGE": "debian:12"}, False),
    ('BASE = "debian:12"\nACCOUNT = "${account_id}"', {}, True),
    ('BASE = "debian:12"\nWHERE = "${region}"', {}, False),  # the region is known locally
    ('BASE = "debian:12"', {}, False),
])
def test_aws_is_needed_only_for_the_registry_or_the_account(repo, args: str, env: dict,
                                                            needed: bool) -> None:
    assert needs_push_target(_config(repo, args), env) is needed


def test_a_public_base_builds_without_aws(repo) -> None:
    config = _config(repo, 'BASE = "debian:12"')
    builder = FakeBuilder()
    ctx = Context(env={}, region="ap-northeast-2", git=Git(repo.project), builder=builder,
                  ecr=Refused(), sts=Refused())
    built = build_image(BuildImageOptions(manual="1.4.0"), config, ctx)
    assert built.version == "1.4.0" and built.platforms == ("linux/amd64",)
    [request] = builder.requests
    assert request.registry_auth is None
    assert request.build_args["BASE"] == "debian:12" and request.build_args["VERSION"] == "1.4.0"
    assert request.labels["org.opencontainers.image.version"] == "1.4.0"
    assert built.layout == request.output and built.layout.parent == repo.project / \
        ".shipyard" / "oci"
    assert built.to_json()["pushed"] is False and built.to_json()["digest"] == built.digest


def test_a_base_in_the_registry_gets_an_ecr_login_for_the_builder(repo) -> None:
    config = _config(repo, 'BASE = "${registry}/base:12"')
    builder, ecr = FakeBuilder(), FakeEcr()
    ctx = Context(env={"AWS_ACCOUNT_ID": "123456789012"}, region="ap-northeast-2",
                  git=Git(repo.project), builder=builder, ecr=ecr, sts=Refused())
    build_image(BuildImageOptions(manual="1.4.0", multi_arch=True), config, ctx)
    [request] = builder.requests
    assert ecr.logins == ["123456789012"]
    assert request.registry_auth is not None and request.registry_auth.password == "t0k"
    assert request.build_args["BASE"] == \
        "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/base:12"
    assert request.platforms == ("linux/amd64", "linux/arm64")


def test_a_bad_platform_is_refused_before_the_builder_runs(repo) -> None:
    config = _config(repo, 'BASE = "debian:12"')
    builder = FakeBuilder()
    ctx = Context(env={}, region="ap-northeast-2", git=Git(repo.project), builder=builder)
    with pytest.raises(UsageError):
        build_image(BuildImageOptions(platforms=("linux",)), config, ctx)
    assert builder.requests == [] and not (repo.project / ".shipyard").exists()


def test_no_builder_is_a_usage_error_before_any_folder(repo) -> None:
    config = _config(repo, 'BASE = "debian:12"')
    with pytest.raises(UsageError, match="no image builder"):
        build_image(BuildImageOptions(), config, Context(env={}, region="r",
                                                         git=Git(repo.project)))
    assert not (repo.project / ".shipyard").exists()


def test_the_layout_is_checked(repo, monkeypatch) -> None:
    """A layout whose blob does not match its digest is refused, not described as built."""
    config = _config(repo, 'BASE = "debian:12"')

    class Corrupting(FakeBuilder):
        def build(self, request: BuildRequest) -> BuildResult:
            result = super().build(request)
            blob = max((request.output / "blobs" / "sha256").iterdir(),
                       key=lambda p: p.stat().st_size)
            blob.write_bytes(b"x" + blob.read_bytes()[1:])
            return result

    with pytest.raises(ShipyardError, match=r"sha256|digest"):
        build_image(BuildImageOptions(), config, Context(env={}, region="r",
                                                         git=Git(repo.project),
                                                         builder=Corrupting()))
