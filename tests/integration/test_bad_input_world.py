"""The bad-input corpus against the sandbox: push, login and scan (issue 8).

Each case is one bad input (an OCI layout, a flag, a registry host, a repository name, an
endpoint, a region, an allowlist) and asserts its documented exit code, one `error: ` line
naming the input, no crash, and no write anywhere: the git repository, the test's folder,
the sandbox registry's storage (upload sessions included), ECR's repositories (every case)
and moto's whole state (around each class of cases: one read of it takes about two seconds,
see `shipyard_testing.bad_inputs.moto_state`). tests/integration/test_bad_input_local.py
holds the commands that work without AWS; tests/integration/test_bad_input_corpus.py the
first cases, mostly `shipyard version`.
"""

from __future__ import annotations

import socket

import pytest

from shipyard_testing import broken_layouts
from shipyard_testing.bad_inputs import Case, World, case, moto_unchanged_around, run_case

pytestmark = pytest.mark.integration

OCI = ["push", "--from-oci"]
GOOD = "{oci:good}"
# Looks like an AWS secret access key; no case may print it.
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY"
RETRIES = "retrying "  # an unreachable registry is retried before the error; nothing else


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def layout_case(name: str, words: list[str]) -> Case:
    return case(f"oci-{name}", [*OCI, f"{{oci:{name}}}"], 2, words)


LAYOUTS = [
    layout_case("no-index", ["no index.json"]),
    layout_case("index-bad-json", ["index.json", "not valid JSON"]),
    layout_case("index-array", ["index.json", "not a JSON object"]),
    layout_case("index-no-manifests", ["lists no manifests"]),
    layout_case("index-nested-deep", ["index.json", "nested too deeply"]),
    layout_case("index-binary", ["index.json", "not valid JSON"]),
    layout_case("no-oci-layout-file", ["no oci-layout file"]),
    layout_case("layout-version-2", ["imageLayoutVersion '2.0.0'", "(1.x)"]),
    layout_case("layer-missing", ["is missing from blobs/sha256"]),
    layout_case("layer-short", ["corrupt", "511 bytes instead of 512"]),
    layout_case("layer-long", ["corrupt", "513 bytes instead of 512"]),
    layout_case("config-other-content", ["corrupt", "does not match its sha256 digest"]),
    layout_case("config-missing", ["is missing from blobs/sha256"]),
    layout_case("config-fifo", ["not a regular file inside the layout"]),
    layout_case("manifest-fifo", ["not a regular file inside the layout"]),
    layout_case("config-symlink-out", ["not a regular file inside the layout"]),
    layout_case("layer-folder", ["not a regular file inside the layout"]),
    layout_case("manifest-bad-json", ["manifest sha256:", "not valid JSON"]),
    layout_case("manifest-array", ["manifest sha256:", "not a JSON object"]),
    layout_case("manifest-nested-deep", ["manifest sha256:", "nested too deeply"]),
    layout_case("manifest-unknown-media-type", ["application/vnd.example.thing+json",
                                                "not an image manifest or index"]),
    layout_case("digest-traversal", ["'sha256:../../../../../etc/hostname'",
                                     "not a sha256 digest"]),
    layout_case("digest-md5", ["'md5:d41d8cd98f00b204e9800998ecf8427e'"]),
    layout_case("digest-short", ["not a sha256 digest"]),
    layout_case("size-negative", ["without a valid digest and size"]),
    layout_case("size-string", ["without a valid digest and size"]),
    layout_case("a-file", ["is not an OCI image layout"]),
    layout_case("missing", ["no-such-layout", "is not an OCI image layout"]),
    # The platforms of a layout are what it holds: asking for others is a usage error.
    case("oci-platform-not-in-layout", [*OCI, GOOD, "--platform", "linux/arm64"], 2,
         ["--from-oci", "--platform"]),
    case("oci-platform-not-in-index", [*OCI, "{oci:two}", "--platform", "linux/s390x"], 2,
         ["--from-oci", "--platform"]),
    case("oci-multi-arch", [*OCI, GOOD, "--multi-arch"], 2, ["--from-oci", "--multi-arch"]),
]

VERSIONS = [  # what the tags are made of: each would make a bad tag or no version
    case("push-version-two-parts", [*OCI, GOOD, "--version", "1.2"], 2,
         ["--version '1.2'", "semantic version"]),
    case("push-version-leading-zero", [*OCI, GOOD, "--version", "01.2.3"], 2, ["'01.2.3'"]),
    case("push-version-empty-prerelease", [*OCI, GOOD, "--version", "1.2.3-"], 2, ["'1.2.3-'"]),
    case("push-version-tag-too-long", [*OCI, GOOD, "--version", "1.2.3-" + "a" * 130], 2,
         ["not a valid image tag", "at most 128 characters"]),
    case("push-version-slash", [*OCI, GOOD, "--version", "1.2.3-a/b"], 2, ["'1.2.3-a/b'"]),
    case("push-bump-unknown", [*OCI, GOOD, "--bump", "huge"], 2, ["--bump 'huge'"]),
    case("push-dry-run-bad-version", [*OCI, GOOD, "--dry-run", "--version", "x"], 2,
         ["--version 'x'"]),
]

REGISTRY_HOSTS = [  # SHIPYARD_REGISTRY: what push and login send the image and the login to
    *[case(f"registry-{name}", [*OCI, GOOD], 2, ["SHIPYARD_REGISTRY", words],
           env={"SHIPYARD_REGISTRY": host}, secret="hunter2secret")
      for name, host, words in [
          ("path", "127.0.0.1:5000/path", "5000/path"),
          ("credentials", "user:hunter2secret@127.0.0.1:5000", "credentials"),
          ("space", "127.0.0.1 5000", "'127.0.0.1 5000'"),
          ("leading-dash", "-127.0.0.1", "'-127.0.0.1'"),
          ("port-zero", "127.0.0.1:0", "port '0'"),
          ("port-negative", "127.0.0.1:-5", "port '-5'"),
          ("two-ports", "127.0.0.1:5000:6000", "'127.0.0.1:5000:6000'"),
          ("newline", "127.0.0.1:5000\nevil.example", "127.0.0.1:5000\\nevil"),
      ]],
    case("registry-port-not-a-number-login", ["login"], 2, ["SHIPYARD_REGISTRY", "'abc'"],
         env={"SHIPYARD_REGISTRY": "127.0.0.1:abc"}),
    case("registry-unreachable-login", ["login"], 7, ["GET /v2/", "{closed}"],
         env={"SHIPYARD_REGISTRY": "127.0.0.1:{closed}"}, other_lines=RETRIES),
    # push to an unreachable registry: tests/integration/test_push_checks_first.py (retries
    # take 10 s a case).
]

REPOSITORIES = [  # ECR_REPOSITORY: ECR's grammar is lowercase path components
    *[case(f"repository-{name}", [*OCI, GOOD], 2, ["repository name", f"'{value}'"],
           env={"ECR_REPOSITORY": value})
      for name, value in [("upper-case", "UPPER"), ("double-slash", "a//b"),
                          ("leading-dash", "-lead"), ("space", "a b"), ("trailing-slash", "a/"),
                          ("dot-dot", "../etc"), ("colon", "a:tag"), ("at", "a@b"),
                          ("one-char", "a"), ("unicode", "rép")]],
    case("repository-too-long", [*OCI, GOOD], 2, ["257 characters long", "2 to 256"],
         env={"ECR_REPOSITORY": "a" * 257}),
    case("repository-config-upper-case", ["login"], 2, ["service.repository", "'Game'"],
         files={"shipyard.toml": '[service]\nrepository = "Game"\n'}, env={"ECR_REPOSITORY": ""}),
]

ENVIRONMENT = [  # AWS settings from the environment
    case("account-id-short", [*OCI, GOOD], 2, ["AWS_ACCOUNT_ID '12345'"],
         env={"AWS_ACCOUNT_ID": "12345"}),
    case("account-id-letters", ["login"], 2, ["AWS_ACCOUNT_ID 'abcdefghijkl'"],
         env={"AWS_ACCOUNT_ID": "abcdefghijkl"}),
    case("region-semicolon-push", [*OCI, GOOD], 2, ["AWS_REGION 'us-east-1;x'"],
         env={"AWS_REGION": "us-east-1;x"}),
    case("region-upper-case-login", ["login"], 2, ["AWS_REGION 'US-EAST-1'"],
         env={"AWS_REGION": "US-EAST-1"}),
    case("region-url-scan", ["scan", "latest"], 2, ["AWS_REGION"],
         env={"AWS_REGION": "https://evil.example"}),
    case("endpoint-not-a-url", ["login"], 9, ["not a url", "AWS_ENDPOINT_URL"],
         env={"AWS_ENDPOINT_URL": "not a url"}),
    case("endpoint-port-not-a-number", [*OCI, GOOD], 9, ["'abc'", "AWS_ENDPOINT_URL"],
         env={"AWS_ENDPOINT_URL": "http://127.0.0.1:abc"}),
    case("endpoint-port-out-of-range", ["login"], 9, ["AWS_ENDPOINT_URL"],
         env={"AWS_ENDPOINT_URL": "http://127.0.0.1:99999"}),
    case("endpoint-ftp", ["scan", "latest"], 9, ["ftp", "AWS_ENDPOINT_URL"],
         env={"AWS_ENDPOINT_URL": "ftp://127.0.0.1:21"}),
    case("endpoint-unreachable", [*OCI, GOOD], 9, ["cannot reach", "AWS_ENDPOINT_URL"],
         env={"AWS_ENDPOINT_URL": "http://127.0.0.1:{closed}"}),
    # The registry answers HTTP, but not as AWS does.
    case("endpoint-is-the-registry-scan", ["scan", "latest"], 9,
         ["answered, but not as AWS does", "AWS_ENDPOINT_URL"],
         env={"AWS_ENDPOINT_URL": "http://{registry}", "AWS_ACCOUNT_ID": "123456789012"}),
    case("no-credentials", ["login"], 8, ["no AWS credentials"],
         env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}),
]

SCAN = [
    *[case(f"scan-image-{name}", ["scan", value], 2, ["IMAGE", *words])
      for name, value, words in [
          ("empty", "", ["''"]),
          ("space", "a b", ["'a b'"]),
          ("short-digest", "sha256:abc", ["'sha256:abc'"]),
          ("digest-upper", "sha256:" + "A" * 64, ["sha256:AAAA"]),
          ("other-repository", "other/repo:1.0.0", ["'other/repo:1.0.0'"]),
          ("newline", "latest\nx", ["latest\\nx"]),
          ("tag-too-long", "t" * 129, ["t" * 20]),
          ("leading-dot", ".hidden", ["'.hidden'"]),
      ]],
    case("scan-threshold-unknown", ["scan", "latest", "--threshold", "SEVERE"], 2,
         ["--threshold 'SEVERE'", "CRITICAL"]),
    case("scan-threshold-config", ["scan", "latest"], 3, ["scan.threshold", "CRITICAL"],
         files={"shipyard.toml": '[scan]\nthreshold = "SEVERE"\n'}),
    *[case(f"allowlist-{name}", ["scan", "latest"], 3, ["allow.toml", *words],
           files={"shipyard.toml": '[scan]\nallowlist = "allow.toml"\n', "allow.toml": text},
           secret=SECRET)
      for name, text, words in [
          ("bad-toml", "[[ignore]\nid = 1\n", []),
          ("no-reason", '[[ignore]]\nid = "CVE-2026-1"\nexpires = 2026-12-31\n', ["reason"]),
          ("no-expiry", '[[ignore]]\nid = "CVE-2026-1"\nreason = "r"\n', ["expires"]),
          ("expiry-a-string", '[[ignore]]\nid = "CVE-2026-1"\nreason = "r"\n'
                              'expires = "soon"\n', ["expires"]),
          ("no-id", '[[ignore]]\nreason = "r"\nexpires = 2026-12-31\n', ["id"]),
          ("unknown-key-with-a-secret", '[[ignore]]\nid = "CVE-2026-1"\nreason = "r"\n'
                                        f'expires = 2026-12-31\naws_secret = "{SECRET}"\n',
           ["entry 1", "'aws_secret'"]),
          ("misspelt-table", '[[ignroe]]\nid = "CVE-2026-1"\nreason = "r"\n'
                             'expires = 2026-12-31\n', ["'ignroe'"]),
          ("ignore-not-a-list", 'ignore = "CVE-2026-1"\n', ["ignore"]),
          ("binary", b"\x00\x01\x02\xff", []),
          ("folder", "<folder>", []),
          ("utf16", '[[ignore]]\nid = "CVE-2026-1"\n'.encode("utf-16"), ["UTF-16"]),
          ("deeply-nested", "a = " + "[" * 5000 + "]" * 5000 + "\n", []),
      ]],
    case("allowlist-missing", ["scan", "latest"], 3, ["gone.toml", "does not exist"],
         files={"shipyard.toml": '[scan]\nallowlist = "gone.toml"\n'}),
]

LOGIN = [
    case("docker-config-folder", ["login", "--docker-config", "{tmp}/cfg"], 2,
         ["--docker-config"], files={"{tmp}/cfg": "<folder>"}),
    case("docker-config-missing-folder", ["login", "--docker-config", "{tmp}/no/config.json"],
         2, ["{tmp}/no/config.json"]),
    case("docker-config-bad-json", ["login", "--docker-config", "{tmp}/config.json"], 2,
         ["config.json", "JSON"], files={"{tmp}/config.json": '{"auths": {'}),
    case("docker-config-not-an-object", ["login", "--docker-config", "{tmp}/config.json"], 2,
         ["config.json"], files={"{tmp}/config.json": "[]"}),
    case("docker-config-auths-not-an-object",
         ["login", "--docker-config", "{tmp}/config.json"], 2, ["config.json", "auths"],
         files={"{tmp}/config.json": '{"auths": []}'}),
    case("docker-config-fifo", ["login", "--docker-config", "{tmp}/config.json"], 2,
         ["config.json"], files={"{tmp}/config.json": "<fifo>"}),
]

GROUPS = {"layouts": LAYOUTS, "versions": VERSIONS, "registry-hosts": REGISTRY_HOSTS,
          "repositories": REPOSITORIES, "environment": ENVIRONMENT, "scan": SCAN,
          "login": LOGIN}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> dict:
    return broken_layouts.build(tmp_path_factory.mktemp("layouts"))


@pytest.fixture(scope="module")
def world(sandbox, sandbox_dir) -> World:
    return World(sandbox, sandbox_dir)


@pytest.fixture(scope="module")
def places(layouts, sandbox) -> dict:
    return {**{f"oci:{name}": str(path) for name, path in layouts.items()},
            "closed": str(closed_port()), "registry": sandbox["SHIPYARD_REGISTRY"]}


@pytest.fixture(scope="class")
def moto_unchanged(world):
    yield from moto_unchanged_around(world)


def _params(cases: list[Case]):
    return pytest.mark.parametrize("item", cases, ids=[c.id for c in cases])


@pytest.mark.usefixtures("moto_unchanged")
class TestPush:
    @_params(LAYOUTS + VERSIONS)
    def test_refused(self, item, repo, shipyard, sandbox_env, tmp_path, world, places):
        run_case(item, repo, shipyard, tmp_path, world, places)


@pytest.mark.usefixtures("moto_unchanged")
class TestTargets:
    @_params(REGISTRY_HOSTS + REPOSITORIES + ENVIRONMENT)
    def test_refused(self, item, repo, shipyard, sandbox_env, tmp_path, world, places):
        run_case(item, repo, shipyard, tmp_path, world, places)


@pytest.mark.usefixtures("moto_unchanged")
class TestScanAndLogin:
    @_params(SCAN + LOGIN)
    def test_refused(self, item, repo, shipyard, sandbox_env, tmp_path, world, places):
        run_case(item, repo, shipyard, tmp_path, world, places)
