"""The bad-input corpus, part two: config, git states, GitHub contexts, templates, AppSpecs,
init, tags and version flags (issue 8).

The same checks as tests/integration/test_bad_input_world.py, whose module docstring says
what "no write anywhere" covers; the session sandbox is running, so a command that reaches
for AWS or the registry when it should stop first would show in its state.
"""

from __future__ import annotations

import os
import subprocess
from urllib.parse import quote

import pytest

from shipyard_testing.bad_inputs import (
    FIFO,
    FOLDER,
    LINK_TO_NOWHERE,
    World,
    case,
    moto_unchanged_around,
    run_case,
)

pytestmark = pytest.mark.integration

TOML = "shipyard.toml"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY"  # looks like an AWS secret key
URL_SECRET = quote(SECRET, safe="")  # as a URL's user-info carries it
ACTIONS = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push"}
BUMP = ["version", "--write", "--bump", "minor"]  # would rewrite version.txt
# An environment's required keys: the deploy settings' cases add one bad key after them.
PROD = '[environments.prod]\ncluster = "c"\nservice = "s"\ntask_definition = "td.json"\n'


def config(text: str, **extra) -> dict:
    return {TOML: text, **extra}


CONFIG = [
    case("toml-inline-arrays-2000-deep", "version", 3, [TOML],
         files=config("a = " + "[" * 2000 + "]" * 2000 + "\n")),
    case("toml-tables-2000-deep", "version", 3, [TOML],
         files=config("[[" + ".".join(["a"] * 2000) + "]]\n")),
    case("toml-dangling-symlink", "version", 3, [TOML, "does not exist"],
         files={TOML: LINK_TO_NOWHERE}),
    case("toml-symlink-loop", "version", 3, [TOML],
         setup=lambda repo, tmp: (repo.project / TOML).symlink_to(TOML)),
    case("toml-syntax", "version", 3, [TOML], files=config("[service\nname = 1\n")),
    case("toml-duplicate-key", "version", 3, [TOML],
         files=config('[service]\nname = "a"\nname = "b"\n')),
    case("toml-unknown-key", "version", 3, [TOML, "service.nmae"],
         files=config('[service]\nnmae = "x"\n')),
    case("toml-unknown-section", "version", 3, [TOML, "bogus"], files=config("[bogus]\nx = 1\n")),
    case("toml-unknown-key-holding-a-secret", "version", 3, [TOML, "service.token"],
         files=config(f'[service]\ntoken = "{SECRET}"\n'), secret=SECRET),
    case("toml-name-a-number", "version", 3, ["service.name"],
         files=config("[service]\nname = 1\n")),
    case("toml-platforms-a-string", "version", 3, ["build.platforms"],
         files=config('[build]\nplatforms = "linux/amd64"\n')),
    case("toml-branches-a-table", "version", 3, ["version.branches"],
         files=config("[version.branches]\nmain = 1\n")),
    case("toml-mutability-unknown", "version", 3, ["repository.tag_mutability"],
         files=config('[repository]\ntag_mutability = "SOMETIMES"\n')),
    case("toml-latest-always", "version", 3, ["tags.latest"],
         files=config('[tags]\nlatest = "always"\n')),
    case("toml-deployment-unknown", "version", 3, ["deployment"],
         files=config('[environments.prod]\ncluster = "c"\nservice = "s"\n'
                      'task_definition = "td.json"\ndeployment = "canary"\n')),
    case("toml-environment-without-cluster", "version", 3, ["environments.prod"],
         files=config('[environments.prod]\nservice = "s"\ntask_definition = "td.json"\n')),
    case("toml-too-large", "version", 3, [TOML, "too large"],
         files=config("# " + "x" * 2_000_000 + "\n")),
    *[case(f"toml-deploy-{name}", "version", 3, [TOML, *words], files=config(PROD + text),
           **extra)
      for name, text, words, extra in [
          ("approval-a-string", 'require_approval = "yes"\n',
           ["environments.prod.require_approval", "true or false"], {}),
          ("rollback-on-timeout-a-number", "rollback_on_timeout = 1\n",
           ["environments.prod.rollback_on_timeout", "true or false"], {}),
          ("timeout-a-string", 'timeout = "600"\n', ["environments.prod.timeout", "a number"],
           {}),
          ("timeout-zero", "timeout = 0\n", ["environments.prod.timeout", "greater than 0"],
           {}),
          ("deployment-config-a-number", "deployment_config = 10\n",
           ["environments.prod.deployment_config"], {}),
          ("desired-count-zero", "desired_count = 0\n", ["environments.prod.desired_count"],
           {}),
          ("health-without-url", "[environments.prod.health]\npaths = [\"/health\"]\n",
           ["environments.prod.health.url", "empty"], {}),
          ("health-url-private", '[environments.prod.health]\nurl = "http://10.0.0.7/"\n',
           ["environments.prod.health.url", "10.0.0.7 is a private address"], {}),
          ("health-url-metadata", '[environments.prod.health]\nurl = "http://169.254.169.254"\n',
           ["environments.prod.health.url", "link-local"], {}),
          ("health-url-ftp", '[environments.prod.health]\nurl = "ftp://example.org/"\n',
           ["environments.prod.health.url", "not http or https"], {}),
          ("health-url-unclosed", '[environments.prod.health]\nurl = "${LB:-http://x"\n',
           ["environments.prod.health.url", "not understood"], {}),
          ("health-url-target-name", '[environments.prod.health]\nurl = "${registry}"\n',
           ["environments.prod.health.url", "${registry} is not an environment variable"], {}),
          ("health-url-credentials",
           f'[environments.prod.health]\nurl = "https://ci:{URL_SECRET}@example.org"\n',
           ["environments.prod.health.url", "credentials"], {"secret": URL_SECRET}),
          ("health-path-relative", '[environments.prod.health]\nurl = "https://example.org"\n'
           'paths = ["health"]\n', ["environments.prod.health.paths", "'health' is not a path"],
           {}),
          ("health-timeout-negative", '[environments.prod.health]\n'
           'url = "https://example.org"\ntimeout = -1\n',
           ["environments.prod.health.timeout", "greater than 0"], {}),
          ("health-rollback-a-string", '[environments.prod.health]\n'
           'url = "https://example.org"\nrollback = "no"\n',
           ["environments.prod.health.rollback", "true or false"], {}),
      ]],
    case("version-file-key-missing-file", "version", 4, ["release.txt"],
         files=config('[version]\nfile = "release.txt"\n')),
    case("project-dir-missing", "version", 3, ["{tmp}/nowhere"], project="{tmp}/nowhere"),
    case("project-dir-a-file", "version", 3, ["{tmp}/a-file"], project="{tmp}/a-file",
         files={"{tmp}/a-file": "x"}),
]


def _plain(repo, tmp) -> None:
    """A project folder outside any git repository."""
    (tmp / "plain").mkdir()
    (tmp / "plain" / "version.txt").write_text("1.0.0\n")


def _no_commits(repo, tmp) -> None:
    _plain(repo, tmp)
    subprocess.run(["git", "init", "-q", str(tmp / "plain")], check=True)


def _broken_head(repo, tmp) -> None:
    _no_commits(repo, tmp)
    (tmp / "plain" / ".git" / "HEAD").write_text("garbage\n")


def _merging(repo, tmp) -> None:
    (repo.root / ".git" / "MERGE_HEAD").write_text(repo.git("rev-parse", "HEAD") + "\n")


GIT = [
    case("git-not-a-repository", "version", 5, ["git"], project="{tmp}/plain", setup=_plain),
    case("git-not-a-repository-tag", "version --version 1.2.3 --git-tag", 5,
         ["--git-tag needs a git repository"],
         project="{tmp}/plain", setup=_plain),
    case("git-no-commits", "version", 5, ["commit"], project="{tmp}/plain", setup=_no_commits),
    case("git-broken-head", "version", 5, ["git"], project="{tmp}/plain", setup=_broken_head),
    case("git-merge-in-progress", "version --write --git-tag --bump minor", 5, ["merge"],
         setup=_merging),
    case("git-dir-missing", "version", 5, ["git"], env={"GIT_DIR": "{tmp}/no-such-git-dir"}),
    case("git-dubious-ownership-tags", "tags", 5, ["dubious ownership"],
         env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}),
    case("git-dubious-ownership-push", "push --dry-run", 5,
         ["dubious ownership"], env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}),
    case("git-dubious-ownership-write", BUMP, 5, ["dubious ownership"],
         env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}),
]


def _immutable(repo, tmp):
    """GITHUB_OUTPUT's file cannot be written: root can write any mode, so the immutable
    flag (chattr +i) it is; others get a read-only file."""
    path = tmp / "out.txt"
    path.write_text("")
    if os.geteuid() != 0:
        path.chmod(0o444)
        return None
    subprocess.run(["chattr", "+i", str(path)], check=True)
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


def _output(name: str, value: str, args, **extra):
    variable = extra.pop("variable", "GITHUB_OUTPUT")
    args = args.split() if isinstance(args, str) else args
    return case(f"{variable.lower()}-{name}", args, 2, [variable, *extra.pop("words", [])],
                env={**ACTIONS, "GITHUB_REF": "refs/heads/main", variable: value}, **extra)


GITHUB = [
    _output("dangling-link-version-write", "{tmp}/out", BUMP, words=["symbolic link"],
            files={"{tmp}/out": LINK_TO_NOWHERE}),
    _output("dangling-link-push", "{tmp}/out", "push --from-oci {tmp}",
            words=["symbolic link"], files={"{tmp}/out": LINK_TO_NOWHERE}),
    _output("immutable-file", "{tmp}/out.txt", BUMP, words=["cannot be written"],
            setup=_immutable),
    _output("a-device", "/dev/full", "tags", words=["not a regular file"]),
    _output("relative-missing-folder", "no/such/out", BUMP,
            words=["no/such/out", "folder that does not exist"]),
    _output("folder-scan", "{tmp}", "scan latest", words=["{tmp} is a folder"]),
    _output("folder-tags", "{tmp}", "tags", variable="GITHUB_STEP_SUMMARY",
            words=["is a folder"]),
    _output("fifo-scan", "{tmp}/summary", "scan latest", variable="GITHUB_STEP_SUMMARY",
            words=["not a regular file"], files={"{tmp}/summary": FIFO}),
    _output("dangling-link-tags", "{tmp}/summary", "tags", variable="GITHUB_STEP_SUMMARY",
            words=["symbolic link"], files={"{tmp}/summary": LINK_TO_NOWHERE}),
    *[case(f"github-ref-{name}", "version", 2, ["GITHUB_REF", *words],
           env={**ACTIONS, "GITHUB_REF": ref})
      for name, ref, words in [("tag-not-semver", "refs/tags/release-1", ["release-1"]),
                               ("tag-two-parts", "refs/tags/v1.2", ["v1.2"]),
                               ("pull-other-suffix", "refs/pull/1/weird", ["refs/pull/1/weird"]),
                               ("tag-empty", "refs/tags/", [])]],
    case("github-ref-name-tag-not-semver", "version", 2, ["GITHUB_REF_NAME 'garbage'"],
         env={**ACTIONS, "GITHUB_EVENT_NAME": "release", "GITHUB_REF_TYPE": "tag",
              "GITHUB_REF_NAME": "garbage"}),
    case("github-sha-short", "tags", 2, ["GITHUB_SHA", "full commit id"],
         env={**ACTIONS, "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "abc1234"}),
]

ENVIRONMENT = f"""
[environments.staging]
cluster = "c"
service = "s"
task_definition = "deploy/td.json"
[environments.staging.values]
cpu = "256"
secret = "{SECRET}"
"""
IMAGE = "public.ecr.aws/corpus/app@sha256:" + "0" * 64
RENDER = ["render", "staging", "--image", IMAGE]
CONTAINER = '{"name": "app", "image": "{{ image }}", "essential": true, "memory": 512}'
ACCOUNT = {"AWS_ACCOUNT_ID": "123456789012"}
GOOD_TEMPLATE = {"deploy/td.json": f'{{"family": "f", "containerDefinitions": [{CONTAINER}]}}'}


def template(name: str, text: str | bytes, words: list[str], *, command=RENDER, code=3,
             **files):
    return case(f"template-{name}", command, code, words, env=ACCOUNT, secret=SECRET,
                files={TOML: ENVIRONMENT, "deploy/td.json": text,
                       **{f"deploy/{k.replace('_', '.')}": v for k, v in files.items()}})


TEMPLATES = [
    template("json-array", f'[{{"family": "f", "containerDefinitions": [{CONTAINER}]}}]',
             ["td.json", "object"]),
    template("not-utf8", b'{"family": "caf\xe9"}', ["td.json", "UTF-8"]),
    template("includes-itself", '{% include "td.json" %}', ["td.json"]),
    template("includes-each-other", '{% include "a.json" %}', ["td.json", "loop"],
             a_json='{% include "td.json" %}'),
    template("unknown-placeholder", '{"family": "{{ nope }}"}', ["td.json", "nope"]),
    template("secret-in-an-int-field",
             '{"family": "f", "containerDefinitions": [{"name": "app", "image": "{{ image }}",'
             ' "memory": "{{ values.secret }}"}]}', ["memory"]),
    template("secret-as-a-field-name",
             f'{{"family": "f", "{{{{ values.secret }}}}": 1, "containerDefinitions": '
             f'[{CONTAINER}]}}', ["td.json"]),
    template("jinja-syntax", '{"family": "{% if %}"}', ["td.json", "line 1"]),
    template("not-json", '{"family": }', ["td.json"]),
    template("missing", LINK_TO_NOWHERE, ["td.json"]),
    template("folder", FOLDER, ["td.json is a folder"]),
    template("fifo", FIFO, ["td.json is not a regular file"]),
    template("nested-deep", '{"family": "f", "x": ' + "[" * 5000 + "]" * 5000 + "}",
             ["td.json"]),
    template("must-env-unset", '{"family": "{{ must_env(\'SHIPYARD_CORPUS_UNSET\') }}"}',
             ["SHIPYARD_CORPUS_UNSET"]),
    template("unknown-field", f'{{"family": "f", "bogus": 1, "containerDefinitions": '
             f'[{CONTAINER}]}}', ["bogus"]),
    template("include-missing", '{% include "nope.json" %}', ["nope.json"]),
    template("python-internals", '{"family": "{{ values.__class__.__mro__ }}"}', ["td.json"]),
    template("verify-includes-itself", '{% include "td.json" %}', ["td.json"],
             command=["verify", "staging", "--image", IMAGE]),
    template("diff-json-array", "[]", ["td.json"],
             command=["diff", "staging", "--image", IMAGE]),
    case("render-unknown-environment", "render nope", 3, ["nope", "staging"], env=ACCOUNT,
         files=config(ENVIRONMENT)),
    case("render-image-unpinned-elsewhere", "render staging --image docker.io/library/nginx:1",
         2, ["--image"], env=ACCOUNT, files=config(ENVIRONMENT, **GOOD_TEMPLATE)),
    case("render-image-garbage", ["render", "staging", "--image", "::::"], 2, ["'::::'"],
         env=ACCOUNT, files=config(ENVIRONMENT, **GOOD_TEMPLATE)),
    case("render-values-not-a-table", "render staging", 3, ["values"], env=ACCOUNT,
         files=config('[environments.staging]\ncluster = "c"\nservice = "s"\n'
                      'task_definition = "td.json"\nvalues = "x"\n')),
]

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 9)}]\n" for n in range(8))


def appspec(name: str, content, words: list[str], code: int = 2, **extra):
    return case(f"appspec-check-{name}", "appspec --check {tmp}/appspec.yml", code,
                ["appspec.yml", *words], files={"{tmp}/appspec.yml": content},
                other_lines="{tmp}/appspec.yml: ", **extra)


APPSPEC_CONFIG = """
[environments.staging]
cluster = "c"
service = "s"
task_definition = "td.json"
[environments.production]
cluster = "c"
service = "p"
task_definition = "td.json"
deployment = "blue_green"
container_name = "app"
container_port = 8080
"""

APPSPECS = [
    appspec("billion-laughs", BILLION_LAUGHS, []),
    appspec("aliases", "version: &v 0.0\nResources: *v\n", []),
    appspec("unknown-key-with-a-secret", f"version: 0.0\nResources: []\n"
            f"aws_secret_access_key: {SECRET}\n", [], secret=SECRET),
    appspec("secret-as-a-key", f"version: 0.0\n{SECRET}: 1\n", [], secret=SECRET),
    # Run, it would create a file in the test's folder, which the folder check would see.
    appspec("python-object", '!!python/object/apply:os.system ["touch {tmp}/pwned"]\n', []),
    appspec("empty", "", []),
    appspec("json-array", "[1, 2]", []),
    appspec("latin1", b"version: 0.0\nResources: caf\xe9\n", ["UTF-8"]),
    appspec("utf16", "version: 0.0\n".encode("utf-16"), ["UTF-16"]),
    appspec("tab-indented", "version: 0.0\nResources:\n\t- x\n", []),
    appspec("dangling-link", LINK_TO_NOWHERE, []),
    appspec("too-large", "# " + "x" * 5_000_000 + "\n", ["too large"]),
    case("appspec-check-folder", "appspec --check {tmp}", 2, ["--check"]),
    case("appspec-rolling-environment", "appspec staging", 2, ["staging", "blue_green"],
         files=config(APPSPEC_CONFIG)),
    case("appspec-unknown-environment", "appspec nope", 3, ["nope"],
         files=config(APPSPEC_CONFIG)),
    case("appspec-no-environment", "appspec", 2, ["environment", "--check"],
         files=config(APPSPEC_CONFIG)),
    case("appspec-environment-and-check", "appspec production --check {tmp}/x.yml", 2,
         ["--check"], files=config(APPSPEC_CONFIG, **{"{tmp}/x.yml": "version: 0.0\n"})),
    case("appspec-format-xml", "appspec production --format xml", 2, ["--format"],
         files=config(APPSPEC_CONFIG)),
]

INIT = [
    *[case(f"init-{name}", ["init", "--yes", *flags], 2, words, project="{tmp}/new",
           files={"{tmp}/new/.keep": ""})
      for name, flags, words in [
          ("name-punctuation", ["--name", "Bad Name!"], ["--name", "'Bad Name!'"]),
          ("name-empty", ["--name", ""], ["--name"]),
          ("port-zero", ["--port", "0"], ["--port"]),
          ("port-too-big", ["--port", "70000"], ["--port", "70000"]),
          ("port-not-a-number", ["--port", "abc"], ["--port"]),
          ("architecture-unknown", ["--cpu-architecture", "sparc"], ["sparc"]),
          ("health-path-relative", ["--health-path", "health"], ["--health-path"]),
          ("blue-green-unlisted", ["--blue-green", "nope"], ["--blue-green", "nope"]),
          ("region-garbage", ["--region", "Mars"], ["'Mars'"]),
          ("repository-upper", ["--repository", "A//B"], ["'A//B'"]),
          ("environment-space", ["--environment", "bad env"], ["'bad env'"]),
          ("environment-twice", ["--environment", "a", "--environment", "a"],
           ["--environment a", "twice"]),
          ("cluster-punctuation", ["--cluster", "bad cluster!"], ["'bad cluster!'"]),
      ]],
    case("init-files-exist", "init --yes", 6, [TOML, "--force"],
         files=config('[service]\nname = "svc"\n')),
    case("init-folder-missing", "init --yes", 3, ["{tmp}/none"], project="{tmp}/none"),
]

FLAGS = [
    case("version-unknown-flag", "version --frobnicate", 2, ["--frobnicate"]),
    case("version-bump-empty", ["version", "--bump", ""], 2, ["--bump"]),
    case("version-write-prerelease", "version --write --version 1.2.3-rc.1", 2, ["--write"]),
    case("version-write-build-metadata", "version --write --version 1.2.3+b7", 2, ["--write"]),
    case("version-manual-and-bump", "version --version 1.2.3 --bump minor", 2,
         ["--version", "--bump"]),
    case("version-manual-unicode", ["version", "--version", "１.２.３"], 2, ["--version"]),
    case("version-verbose-env-garbage", "version", 2, ["SHIPYARD_VERBOSE"],
         env={"SHIPYARD_VERBOSE": "maybe"}),
    case("tags-version-garbage", "tags --version x.y.z", 2, ["--version 'x.y.z'"]),
    case("tags-bump-upper", "tags --bump MAJOR!", 2, ["--bump"]),
    case("tags-labels-source-a-number", "tags", 3, ["labels.source"],
         files=config("[labels]\nsource = 1\n")),
    case("unknown-command", "deploy", 2, ["deploy"]),
]


@pytest.fixture(scope="module")
def world(sandbox, sandbox_dir) -> World:
    return World(sandbox, sandbox_dir)


@pytest.fixture(scope="class")
def moto_unchanged(world):
    yield from moto_unchanged_around(world)


def _params(cases):
    return pytest.mark.parametrize("item", cases, ids=[c.id for c in cases])


@pytest.mark.usefixtures("moto_unchanged", "sandbox_env")
class TestProject:
    @_params(CONFIG + GIT + FLAGS)
    def test_refused(self, item, repo, shipyard, tmp_path, world):
        run_case(item, repo, shipyard, tmp_path, world, {})


@pytest.mark.usefixtures("moto_unchanged", "sandbox_env")
class TestGitHub:
    @_params(GITHUB)
    def test_refused(self, item, repo, shipyard, tmp_path, world):
        run_case(item, repo, shipyard, tmp_path, world, {})


@pytest.mark.usefixtures("moto_unchanged", "sandbox_env")
class TestFiles:
    @_params(TEMPLATES + APPSPECS + INIT)
    def test_refused(self, item, repo, shipyard, tmp_path, world):
        run_case(item, repo, shipyard, tmp_path, world, {})

