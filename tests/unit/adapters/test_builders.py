"""Builders without running them: command lines, config files, error translation, layouts.

A fake runner (a plain function, like httpx's MockTransport) records each command and answers
it; where buildah or buildx would write an OCI layout, the fake writes a tiny one.
"""

from __future__ import annotations

import io
import json
import stat
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shipyard.adapters import builders
from shipyard.adapters.builders import (
    BuildahBuilder,
    BuildRequest,
    CommandResult,
    DockerBuildxBuilder,
    RegistryLogin,
    buildah_errors,
    buildx,
    choose_builder,
    request,
    run_command,
)
from shipyard.adapters.builders.buildah_config import registries_conf_text
from shipyard.adapters.builders.buildah_errors import parse_failure, step_line
from shipyard.adapters.builders.layout import unpack_oci_tar, verify_layout
from shipyard.domain.names import is_loopback_host
from shipyard.domain.platforms import Platform, parse_platforms
from shipyard.errors import AuthError, BuildError, UsageError
from shipyard_testing.oci_layouts import write_oci_layout

EPOCH = 1772600767
PASSWORD = "pa55-w0rd-zz"
CONTAINERFILE = "FROM scratch\nCOPY hello.txt /hello.txt\nRUN true\nFRUM foo\n"


@dataclass
class Call:
    argv: list[str]
    env: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)  # files named in argv, read mid-call


Answer = Callable[[list[str]], CommandResult | None]


class FakeRunner:
    """Records commands; `answer(argv)` may return a result, else success (and a layout)."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.calls: list[Call] = []
        self.answer = answer or (lambda argv: None)

    def __call__(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, timeout: float | None = None) -> CommandResult:
        argv = list(argv)
        # Capture the per-build files while they exist: they are deleted after the build.
        files = {a: Path(a).read_bytes() for a in argv if a.startswith("/") and Path(a).is_file()}
        for value in (env or {}).values():
            if value.startswith("/") and Path(value).is_dir():
                files.update({str(f): f.read_bytes() for f in Path(value).iterdir()
                              if f.is_file()})
        self.calls.append(Call(argv, dict(env or {}), files))
        result = self.answer(argv)
        if result is not None:
            return result
        for arg in argv:
            if arg.startswith("oci:"):
                write_layout(Path(arg[4:]))
            if arg.startswith("type=oci,dest="):
                write_layout_tar(Path(arg.split("dest=")[1].split(",")[0]))
        return CommandResult(0, "ok\n", "")

    def subcommands(self) -> list[str]:
        """`build`, `push`, `manifest create`, ... in order, global flags skipped."""
        names = []
        for call in self.calls:
            words = call.argv[1:]
            first = next(w for w in words if w in SUBCOMMANDS)
            after = words[words.index(first) + 1:]
            names.append(f"manifest {after[0]}" if first == "manifest" else first)
        return names


SUBCOMMANDS = {"--version", "build", "push", "manifest", "rmi", "buildx", "info"}


def write_layout(folder: Path, entries: int = 1) -> None:
    """What a build leaves: a layout whose index.json lists `entries` images."""
    for number in range(entries):
        write_oci_layout(folder, ref_name=None, add=number > 0)


def write_layout_tar(archive: Path, extra: tuple[str, bytes] | None = None) -> None:
    members = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
               "index.json": b'{"schemaVersion": 2, "manifests": [{"digest": "sha256:0"}]}',
               "blobs/sha256/0": b"{}"}
    if extra:
        members[extra[0]] = extra[1]
    with tarfile.open(archive, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "hello.txt").write_text("hello\n")
    (tmp_path / "svc" / "Containerfile").write_text(CONTAINERFILE)
    return tmp_path / "svc"


def make_request(project: Path, *platforms: str, **extra) -> BuildRequest:
    return BuildRequest(context=project, dockerfile=project / "Containerfile",
                        platforms=platforms or ("linux/amd64",),
                        output=project.parent / "out" / "image", **extra)


@pytest.fixture
def foreign_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend to be an amd64 machine with no qemu handlers registered."""
    monkeypatch.setattr(buildah_errors, "host_arch", lambda: "amd64")
    monkeypatch.setattr(buildah_errors, "emulator_registered", lambda arch: False)
    monkeypatch.setattr(buildx, "host_arch", lambda: "amd64")


def flag(argv: list[str], name: str) -> list[str]:
    """Every value given to `name` in argv."""
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == name]


# --- platforms -------------------------------------------------------------------------------

def test_platforms_parse() -> None:
    parsed = parse_platforms(("linux/amd64", "linux/arm/v7"))
    assert parsed == (Platform("linux", "amd64"), Platform("linux", "arm", "v7"))
    assert [p.slug for p in parsed] == ["linux-amd64", "linux-arm-v7"]


@pytest.mark.parametrize("platforms", [
    (),                               # nothing to build
    ("amd64",),                       # no os
    ("linux/amd64", "linux/amd64"),   # twice
    ("Linux/AMD64",),                 # OCI names are lower case
])
def test_bad_platforms_are_usage_errors(platforms: tuple[str, ...]) -> None:
    with pytest.raises(UsageError):
        parse_platforms(platforms)


# --- buildah: command lines ------------------------------------------------------------------

def test_buildah_single_platform_commands(project: Path, tmp_path: Path) -> None:
    fake = FakeRunner()
    storage = tmp_path / "cache"
    req = make_request(project, labels={"org.opencontainers.image.version": "1.2.3"},
                       build_args={"CONFIG": "Release"}, source_date_epoch=EPOCH)
    result = BuildahBuilder(storage, runner=fake).build(req)

    assert result == builders.BuildResult(req.output, ("linux/amd64",), "buildah")
    assert fake.subcommands() == ["--version", "build", "push", "rmi"]
    build = fake.calls[1].argv
    assert build[:7] == ["buildah", "--root", str(storage / "root"), "--runroot",
                         str(storage / "run"), "--storage-driver", "vfs"]
    assert flag(build, "--isolation") == ["chroot"]
    assert flag(build, "--format") == ["oci"]
    assert flag(build, "--platform") == ["linux/amd64"]
    assert flag(build, "--timestamp") == [str(EPOCH)]
    assert flag(build, "--build-arg") == ["CONFIG=Release", f"SOURCE_DATE_EPOCH={EPOCH}"]
    assert flag(build, "--label") == ["org.opencontainers.image.version=1.2.3"]
    assert "--identity-label=false" in build and "--layers=false" in build
    assert build[-3:] == ["--file", str(req.dockerfile), str(project)]
    env = fake.calls[1].env
    assert env["BUILDAH_ISOLATION"] == "chroot" and env["STORAGE_DRIVER"] == "vfs"
    assert env["SOURCE_DATE_EPOCH"] == str(EPOCH)
    # One platform: the image itself is pushed into the layout, no manifest list.
    push = fake.calls[2].argv
    assert push[-2] == flag(build, "--tag")[0] and push[-1].startswith("oci:")
    assert verify_layout(req.output)
    assert fake.calls[3].argv[-1] == push[-2]  # our tag is removed from the cache


def test_buildah_two_platforms_assemble_one_index(project: Path, tmp_path: Path) -> None:
    fake = FakeRunner()
    BuildahBuilder(tmp_path / "cache", runner=fake).build(
        make_request(project, "linux/amd64", "linux/arm64"))
    assert fake.subcommands() == ["--version", "build", "build", "manifest create",
                                  "manifest add", "manifest add", "manifest push",
                                  "manifest rm", "rmi"]
    tags = [flag(c.argv, "--tag")[0] for c in fake.calls[1:3]]
    assert [flag(c.argv, "--platform") for c in fake.calls[1:3]] == [["linux/amd64"],
                                                                      ["linux/arm64"]]
    assert [c.argv[-1] for c in fake.calls[4:6]] == [f"containers-storage:{t}" for t in tags]
    push = fake.calls[6].argv
    assert "--all" in push and flag(push, "--format") == ["oci"]
    assert fake.calls[8].argv[-2:] == tags


def test_buildah_registry_login_goes_through_a_private_authfile(
    project: Path, tmp_path: Path
) -> None:
    fake = FakeRunner()
    login = RegistryLogin("ci", PASSWORD, host="127.0.0.1:5000")
    BuildahBuilder(tmp_path / "cache", runner=fake).build(
        make_request(project, registry_auth=login, insecure_registries=("127.0.0.1:5000",)))
    build = fake.calls[1]
    assert all(PASSWORD not in arg for call in fake.calls for arg in call.argv)
    assert PASSWORD not in repr(login)
    authfile = Path(flag(build.argv, "--authfile")[0])
    auths = json.loads(build.files[str(authfile)])["auths"]
    assert list(auths) == ["127.0.0.1:5000"]
    assert not authfile.exists()  # removed after the build
    conf = build.files[flag(build.argv, "--registries-conf")[0]].decode()
    assert 'location = "127.0.0.1:5000"\ninsecure = true' in conf
    assert "--tls-verify=false" not in build.argv  # insecure per host, never for all


def test_authfile_is_private_while_it_exists(project: Path, tmp_path: Path) -> None:
    modes = []

    def answer(argv: list[str]) -> None:
        for path in flag(argv, "--authfile"):
            modes.append(stat.S_IMODE(Path(path).stat().st_mode))
            modes.append(stat.S_IMODE(Path(path).parent.stat().st_mode))

    BuildahBuilder(tmp_path / "c", runner=FakeRunner(answer)).build(
        make_request(project, registry_auth=RegistryLogin("u", PASSWORD, host="localhost:5000")))
    assert modes == [0o600, 0o700]


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost:5000", True),
    ("127.0.0.1:5000", True),
    ("127.8.9.1", True),
    ("[::1]:5000", True),
    ("10.0.0.5:5000", False),           # private network is still a network
    ("registry.example.com", False),
    ("localhost.example.com:5000", False),
])
def test_only_loopback_registries_may_be_insecure(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_non_loopback_insecure_registry_is_refused_before_building(
    project: Path, tmp_path: Path
) -> None:
    fake = FakeRunner()
    with pytest.raises(UsageError, match=r"10\.0\.0\.5:5000"):
        BuildahBuilder(tmp_path / "c", runner=fake).build(
            make_request(project, insecure_registries=("10.0.0.5:5000",)))
    assert fake.subcommands() == ["--version"]


def test_short_names_resolve_on_docker_io_like_docker() -> None:
    assert 'unqualified-search-registries = ["docker.io"]' in registries_conf_text(())


# --- buildah: failures -----------------------------------------------------------------------

def failing_build(stderr: str) -> Answer:
    return lambda argv: CommandResult(1, "", stderr) if "build" in argv else None


def test_missing_buildah_names_the_package(project: Path, tmp_path: Path) -> None:
    fake = FakeRunner(lambda argv: CommandResult(127, "", "buildah: command not found"))
    with pytest.raises(BuildError, match=r"apt-get install buildah"):
        BuildahBuilder(tmp_path / "c", runner=fake).build(make_request(project))


RUN_FAILED = 'Error: building at STEP "RUN true": exit status 1\n'
EXEC_FORMAT = ("process failed to start with error: fork/exec /bin/sh: exec format error"
               "process exited with error: exec: not startedsubprocess exited with status 1\n")
UNKNOWN = ('Error: building at STEP "FRUM ": Build error: Unknown instruction: "FRUM" '
           '&imagebuilder.Step{Env:[]string{"PATH=/bin"}, Command:"frum", Args:[]string{""}, '
           'Message:"FRUM ", Original:"FRUM foo"}\n')


@pytest.mark.parametrize(("platform", "stderr", "kind", "expected"), [
    # a foreign RUN without qemu: the emulation message, naming the step and its line
    ("linux/arm64", EXEC_FORMAT + RUN_FAILED, BuildError,
     "building linux/arm64 needs to run a linux/arm64 binary (RUN true at Containerfile line 3)"
     " and this machine cannot: install qemu-user-static and binfmt-support"),
    # the same on the native platform is a broken binary, not a missing emulator
    ("linux/amd64", EXEC_FORMAT + RUN_FAILED, BuildError,
     "building linux/amd64 failed at Containerfile line 3 (RUN true): exit status 1 after: "
     "fork/exec /bin/sh: exec format error; fix that instruction"),
    # an unknown instruction: the line as written and its number, the Go dump dropped
    ("linux/amd64", UNKNOWN, BuildError,
     'failed at Containerfile line 4 (FRUM foo): Unknown instruction: "FRUM"; fix that'),
    # the base image registry refused the login
    ("linux/amd64", "Error: creating build container: initializing source docker://127.0.0.1:"
     "5000/base:1: reading manifest 1 in 127.0.0.1:5000/base: unauthorized: authentication "
     "required\n", AuthError, "check the registry login"),
    # https to a plain-http registry
    ("linux/amd64", 'Error: creating build container: pinging container registry 127.0.0.1:'
     '5000: Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client\n',
     BuildError, "list it as an insecure registry"),
    # registry down
    ("linux/amd64", 'Error: creating build container: pinging container registry localhost:1: '
     'dial tcp 127.0.0.1:1: connect: connection refused\n', BuildError,
     "cannot reach the registry of a base image"),
    # a RUN step's own output mentions "connection refused": not a registry problem
    ("linux/amd64", "curl: (7) connection refused\nsubprocess exited with status 7\n"
     + RUN_FAILED, BuildError,
     "failed at Containerfile line 3 (RUN true): exit status 1 after: curl: (7) connection"),
    # COPY of a file outside the context
    ("linux/amd64", 'Error: building at STEP "COPY hello.txt /hello.txt": checking on sources '
     'under "/ctx": copier: stat: "/hello.txt": no such file or directory\n', BuildError,
     "Containerfile line 2 (COPY hello.txt /hello.txt) copies a file that is not in the build"),
    # disk full: the cache folder can go
    ("linux/amd64", "write /var/tmp/x: no space left on device\n" + RUN_FAILED, BuildError,
     "delete buildah's cache folder"),
    # buildah crashed: the panic line is the best we have
    ("linux/amd64", "panic: runtime error: invalid memory address\n\ngoroutine 20 [running]:\n",
     BuildError, "failed at Containerfile: panic: runtime error: invalid memory address"),
])
def test_buildah_failures_are_explained(
    project: Path, tmp_path: Path, foreign_host: None,
    platform: str, stderr: str, kind: type, expected: str,
) -> None:
    builder = BuildahBuilder(tmp_path / "c", runner=FakeRunner(failing_build(stderr)))
    with pytest.raises(kind) as caught:
        builder.build(make_request(project, platform))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_registered_emulator_that_fails_asks_for_the_fix_binary_flag(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(buildah_errors, "host_arch", lambda: "amd64")
    monkeypatch.setattr(buildah_errors, "emulator_registered", lambda arch: True)
    builder = BuildahBuilder(tmp_path / "c", runner=FakeRunner(failing_build(
        EXEC_FORMAT + RUN_FAILED)))
    with pytest.raises(BuildError, match="F flag"):
        builder.build(make_request(project, "linux/arm64"))


def test_failed_build_keeps_the_previous_layout_and_cleans_up(
    project: Path, tmp_path: Path
) -> None:
    req = make_request(project, "linux/amd64", "linux/arm64")
    write_layout(req.output)
    before = (req.output / "index.json").read_text()
    fake = FakeRunner(lambda argv: CommandResult(1, "", RUN_FAILED)
                      if "linux/arm64" in argv else None)
    with pytest.raises(BuildError, match="linux/arm64"):
        BuildahBuilder(tmp_path / "c", runner=fake).build(req)
    assert (req.output / "index.json").read_text() == before
    assert fake.subcommands()[-1] == "rmi"  # the amd64 image built first is removed
    assert sorted(p.name for p in req.output.parent.iterdir()) == ["image"]  # no staging left


def test_failed_layout_write_is_named(project: Path, tmp_path: Path) -> None:
    fake = FakeRunner(lambda argv: CommandResult(125, "", "Error: writing blob: disk quota\n")
                      if "push" in argv else None)
    req = make_request(project, "linux/amd64", "linux/arm64")
    with pytest.raises(BuildError, match=r"\(buildah manifest push\): writing blob: disk quota"):
        BuildahBuilder(tmp_path / "c", runner=fake).build(req)
    assert not req.output.exists()
    assert fake.subcommands()[-2:] == ["manifest rm", "rmi"]


def test_password_echoed_by_a_tool_is_masked(project: Path, tmp_path: Path) -> None:
    stderr = f"Error: creating build container: unauthorized: user ci password {PASSWORD}\n"
    builder = BuildahBuilder(tmp_path / "c", runner=FakeRunner(failing_build(stderr)))
    with pytest.raises(AuthError) as caught:
        builder.build(make_request(
            project, registry_auth=RegistryLogin("ci", PASSWORD, host="localhost:5000")))
    assert PASSWORD not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.parametrize(("setup", "kind", "expected"), [
    (lambda out: (out.mkdir(parents=True), (out / "main.py").write_text("")), BuildError,
     "not an OCI image layout"),                    # never wipe a source folder
    (lambda out: (out.parent.mkdir(parents=True), out.write_text("")), BuildError,
     "is a file"),
])
def test_output_that_is_not_a_layout_is_refused(
    project: Path, tmp_path: Path, setup, kind: type, expected: str
) -> None:
    req = make_request(project)
    setup(req.output)
    fake = FakeRunner()
    with pytest.raises(kind, match=expected):
        BuildahBuilder(tmp_path / "c", runner=fake).build(req)
    assert fake.calls == []


def test_missing_dockerfile_is_named(project: Path, tmp_path: Path) -> None:
    req = make_request(project)
    req.dockerfile.unlink()
    with pytest.raises(BuildError, match="Containerfile does not exist"):
        BuildahBuilder(tmp_path / "c", runner=FakeRunner()).build(req)


@pytest.mark.parametrize(("step", "text", "line"), [
    ("RUN true", "FROM scratch\nRUN true\n", 2),
    ("run   TRUE", "FROM scratch\nRUN true\n", 2),                       # case and spaces
    ("RUN a &&     b", "FROM x\nRUN a && \\\n    b\n", 2),               # continued line
    ("RUN /bin/sh -c true", 'FROM x\nRUN ["/bin/sh", "-c", "true"]\n', 2),  # exec form
    ("RUN true", "FROM a\nRUN true\nFROM b\nRUN true\n", None),          # ambiguous: no guess
    ("COPY x /y", "FROM a\n# COPY x /y\n", None),                        # comments do not count
])
def test_step_line(step: str, text: str, line: int | None) -> None:
    assert step_line(step, text) == line


def test_parse_failure_prefers_the_last_error_line() -> None:
    failure = parse_failure('time="x" level=error msg="noise"\nError: first\nError: second\n')
    assert (failure.step, failure.detail) == ("", "second")


# --- docker buildx ---------------------------------------------------------------------------

def test_buildx_command_line_and_unpacked_layout(project: Path) -> None:
    fake = FakeRunner()
    req = make_request(project, "linux/amd64", "linux/arm64", labels={"a": "b"},
                       build_args={"X": "1"}, source_date_epoch=EPOCH)
    result = DockerBuildxBuilder(runner=fake).build(req)
    assert result.builder == "docker-buildx"
    assert fake.subcommands() == ["buildx", "info", "buildx"]
    argv = fake.calls[2].argv
    assert argv[:3] == ["docker", "buildx", "build"]
    assert flag(argv, "--platform") == ["linux/amd64,linux/arm64"]
    output = flag(argv, "--output")[0]
    assert output.startswith("type=oci,dest=") and output.endswith(",rewrite-timestamp=true")
    assert "--provenance=false" in argv and "--sbom=false" in argv
    assert flag(argv, "--build-arg") == [f"SOURCE_DATE_EPOCH={EPOCH}", "X=1"]
    assert flag(argv, "--label") == ["a=b"]
    assert fake.calls[2].env["SOURCE_DATE_EPOCH"] == str(EPOCH)
    assert (req.output / "blobs" / "sha256" / "0").is_file()


def test_buildx_login_uses_a_temporary_docker_config(project: Path, tmp_path: Path) -> None:
    user = tmp_path / "user-docker"
    (user / "buildx").mkdir(parents=True)
    (user / "config.json").write_text(json.dumps(
        {"credsStore": "desktop", "auths": {"other.example": {"auth": "eA=="}}}))
    fake = FakeRunner()
    login = RegistryLogin("AWS", PASSWORD, host="123.dkr.ecr.ap-northeast-2.amazonaws.com")
    DockerBuildxBuilder(runner=fake, docker_config=user).build(
        make_request(project, registry_auth=login))
    call = fake.calls[2]
    assert all(PASSWORD not in arg for arg in call.argv)
    folder = Path(call.env["DOCKER_CONFIG"])
    data = json.loads(call.files[str(folder / "config.json")])
    # The user's config is kept; the login wins for its host even with a credsStore.
    assert set(data["auths"]) == {"other.example", login.host}
    assert data["credHelpers"] == {login.host: ""} and data["credsStore"] == "desktop"
    assert not folder.exists()  # removed after the build
    written = buildx.write_docker_config(tmp_path / "again", login, user)
    assert stat.S_IMODE((written / "config.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(written.stat().st_mode) == 0o700
    assert (written / "buildx").resolve() == (user / "buildx").resolve()


def test_buildx_tar_that_escapes_the_layout_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    write_layout_tar(archive, extra=("../escape.txt", b"x"))
    with pytest.raises(BuildError, match="cannot unpack"):
        unpack_oci_tar(archive, tmp_path / "layout")
    assert not (tmp_path / "escape.txt").exists()


BUILDX_EXEC = """#8 [linux/arm64 3/3] RUN true
#8 0.101 exec /bin/sh: exec format error
#8 ERROR: process "/bin/sh -c true" did not complete successfully: exit code: 1
------
Dockerfile:3
--------------------
   2 |     COPY sh /bin/sh
   3 | >>> RUN true
--------------------
ERROR: failed to solve: process "/bin/sh -c true" did not complete successfully: exit code: 1
"""


@pytest.mark.parametrize(("stderr", "kind", "expected"), [
    # foreign RUN, the platform read from the failing step's header
    (BUILDX_EXEC, BuildError, "building linux/arm64 needs to run a linux/arm64 binary "
     "(RUN true at Containerfile line 3)"),
    # the docker driver cannot export OCI
    ("ERROR: OCI exporter is not supported for the docker driver.\n", BuildError,
     "docker buildx create --use --driver docker-container"),
    # base image login refused
    ("ERROR: failed to solve: base:1: failed to authorize: 401 Unauthorized: unauthorized\n",
     AuthError, "check the registry login"),
    # anything else: the line and buildkit's reason
    (BUILDX_EXEC.replace("exec format error", "boom"), BuildError,
     'failed at Containerfile line 3 (RUN true): process "/bin/sh -c true" did not complete'),
])
def test_buildx_failures_are_explained(
    project: Path, foreign_host: None, stderr: str, kind: type, expected: str
) -> None:
    fake = FakeRunner(lambda argv: CommandResult(1, "", stderr) if "build" in argv else None)
    with pytest.raises(kind) as caught:
        DockerBuildxBuilder(runner=fake).build(make_request(project, "linux/amd64",
                                                            "linux/arm64"))
    assert expected in str(caught.value)


# --- choosing ----------------------------------------------------------------------------------

def answering(buildx_ok: bool, engine_ok: bool, buildah_ok: bool) -> FakeRunner:
    def answer(argv: list[str]) -> CommandResult:
        ok = {"buildx": buildx_ok, "info": engine_ok, "--version": buildah_ok}[argv[1]]
        return CommandResult(0 if ok else 1)
    return FakeRunner(answer)


@pytest.mark.parametrize(("buildx_ok", "engine_ok", "buildah_ok", "preferred", "expected"), [
    (True, True, True, "buildah", "buildah"),      # an engine runs, and still buildah
    (True, False, True, "buildah", "buildah"),     # buildx plugin but no engine (this machine)
    (True, True, False, "docker", "docker-buildx"),  # buildx only when asked for
    (True, False, True, "docker", "Docker engine does not answer"),
    (True, True, False, "buildah", "not installed or does not run; install it (apt-get"),
])
def test_choose_builder(buildx_ok: bool, engine_ok: bool, buildah_ok: bool,
                        preferred: str, expected: str) -> None:
    runner = answering(buildx_ok, engine_ok, buildah_ok)
    if " " in expected:
        with pytest.raises(BuildError, match=expected.replace("(", r"\(")):
            choose_builder(preferred, runner=runner)
    else:
        assert choose_builder(preferred, runner=runner).name == expected


def test_choose_builder_refuses_an_unknown_name() -> None:
    with pytest.raises(UsageError, match="podman"):
        choose_builder("podman", runner=FakeRunner())


def test_public_names() -> None:
    assert all(hasattr(builders, name) for name in builders.__all__)
    assert isinstance(BuildahBuilder(Path("/x")), builders.Builder)
    assert isinstance(DockerBuildxBuilder(), builders.Builder)


# --- the real runner and the host ----------------------------------------------------------

def test_run_command_reports_a_missing_program_as_127() -> None:
    assert run_command(["shipyard-no-such-program"]).returncode == 127


def test_run_command_adds_env() -> None:
    done = run_command(["sh", "-c", 'echo "$SHIPYARD_PROBE"'], env={"SHIPYARD_PROBE": "yes"})
    assert (done.returncode, done.stdout) == (0, "yes\n")


def test_emulator_lookup(tmp_path: Path) -> None:
    (tmp_path / "qemu-aarch64").write_text("enabled\n")
    assert request.emulator_registered("arm64", tmp_path)
    assert not request.emulator_registered("s390x", tmp_path)


def test_layout_with_two_entries_is_rejected(tmp_path: Path) -> None:
    write_layout(tmp_path / "l", entries=2)
    with pytest.raises(BuildError, match="2 top-level manifests"):
        verify_layout(tmp_path / "l")
