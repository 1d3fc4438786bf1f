"""The bad-input corpus: each input is refused with one line, its exit code, and no change.

A case is (id, files to write into the project, CLI arguments, environment, exit code, words
the message must hold). The files are written before the repository's state is taken, so the
check "nothing changed" covers everything the command could have written: files, tags, the
index and HEAD. Inputs that must be *accepted* (a BOM, say) are in their own table below.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.integration

TOML = "shipyard.toml"
# File contents that are not contents: a folder, a FIFO, a symbolic link to nothing.
FOLDER, FIFO, LINK_TO_NOWHERE = object(), object(), object()
NO_REGION = {"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}  # so service.region decides
ACTIONS = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push"}

CASES = [
    # --- 9: accepted when it should be refused ------------------------------------------
    ("toml-bool-as-string", {TOML: '[repository]\nscan_on_push = "off"\n'}, ["version"], {},
     3, ["repository.scan_on_push", "boolean", "true or false"]),
    ("toml-major-yes", {TOML: '[tags]\nmajor = "yes"\n'}, ["version"], {},
     3, ["tags.major", "true or false"]),
    ("toml-latest-number", {TOML: "[tags]\nlatest = 1\n"}, ["version"], {},
     3, ["tags.latest", '"auto", true or false']),
    ("toml-latest-string-true", {TOML: '[tags]\nlatest = "true"\n'}, ["version"], {},
     3, ["tags.latest"]),
    ("toml-timeout-string", {TOML: '[scan]\ntimeout = "600"\n'}, ["version"], {},
     3, ["scan.timeout", "number"]),
    ("toml-timeout-bool", {TOML: "[scan]\npoll_interval = true\n"}, ["version"], {},
     3, ["scan.poll_interval", "not a boolean"]),
    ("toml-port-string", {TOML: '[environments.prod]\ncluster = "c"\nservice = "s"\n'
                                'task_definition = "td.json"\ncontainer_port = "8080"\n'},
     ["version"], {}, 3, ["environments.prod.container_port", "whole number"]),
    ("toml-port-float", {TOML: '[environments.prod]\ncluster = "c"\nservice = "s"\n'
                               'task_definition = "td.json"\ncontainer_port = 8080.0\n'},
     ["version"], {}, 3, ["environments.prod.container_port"]),
    ("toml-weight-bool", {TOML: '[environments.prod]\ncluster = "c"\nservice = "s"\n'
                                'task_definition = "td.json"\n'
                                '[[environments.prod.capacity_provider_strategy]]\n'
                                'capacity_provider = "FARGATE"\nweight = true\n'},
     ["version"], {}, 3, ["capacity_provider_strategy.0.weight"]),
    ("toml-key-with-newline", {TOML: '[environments."a\\nb"]\ncluster = 1\n'}, ["version"],
     {}, 3, ["environments.a\\nb"]),
    *[(f"tag-prefix-{name}", {TOML: f"[version]\ntag_prefix = {value}\n"}, ["version"], {},
       3, ["version.tag_prefix", "git tag name"])
      for name, value in [("leading-dash", '"-v"'), ("dot-dot", '"v..x"'),
                          ("space", '"release v"'), ("leading-slash", '"/v"'),
                          ("leading-dot", '".v"'), ("dot-component", '"a/.b"'),
                          ("lock-component", '"a.lock/"'), ("double-slash", '"a//b"'),
                          ("too-long", '"' + "x" * 33 + '"'), ("newline", '"v\\n"'),
                          ("tilde", '"v~"'), ("colon", '"v:"'), ("at-brace", '"v@{"'),
                          ("star", '"v*"'), ("backslash", '"v\\\\"')]],
    ("threshold-empty", {}, ["scan", "latest", "--threshold", ""], {},
     2, ["--threshold", "severity"]),
    ("threshold-two-lines", {}, ["scan", "latest", "--threshold", "high\nlow"], {},
     2, ["--threshold 'high\\nlow'"]),
    ("bump-two-lines", {}, ["version", "--bump", "minor\nmajor"], {}, 2, ["--bump"]),
    ("version-two-lines", {}, ["version", "--version", "1.2.3\n4.5.6"], {}, 2, ["--version"]),
    ("github-ref-pull-not-a-number", {}, ["version"],
     {**ACTIONS, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/abc/merge",
      "GITHUB_HEAD_REF": "feature"}, 2, ["GITHUB_REF", "refs/pull/abc/merge"]),
    ("github-ref-pull-empty", {}, ["version"],
     {**ACTIONS, "GITHUB_REF": "refs/pull//merge"}, 2, ["GITHUB_REF"]),
    ("github-ref-tag-two-lines", {}, ["version"],
     {**ACTIONS, "GITHUB_REF": "refs/tags/nightly\nv1.2.3"}, 2, ["GITHUB_REF", "\\n"]),
    ("github-sha-not-in-clone", {}, ["version"],
     {**ACTIONS, "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "1" * 40},
     5, ["GITHUB_SHA", "fetch-depth: 0"]),
    ("github-sha-not-a-sha", {}, ["version"],
     {**ACTIONS, "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "HEAD~1"},
     2, ["GITHUB_SHA", "full commit id"]),
    # --- 10: messages that mislead -------------------------------------------------------
    ("toml-folder", {TOML: FOLDER}, ["version"], {}, 3, ["is a folder"]),
    ("toml-fifo", {TOML: FIFO}, ["version"], {}, 3, ["not a regular file"]),
    ("toml-utf16", {TOML: '[tags]\nmajor = true\n'.encode("utf-16")}, ["version"], {},
     3, ["UTF-16", "UTF-8"]),
    ("toml-binary", {TOML: b"\x7fELF\x02\x01\x01\x00\x00"}, ["version"], {},
     3, ["not a text file"]),
    ("toml-latin1", {TOML: b'[labels]\ndescription = "caf\xe9"\n'}, ["version"], {},
     3, ["not UTF-8", "Latin-1"]),
    ("toml-dangling-link", {TOML: LINK_TO_NOWHERE}, ["version"], {},
     3, ["symbolic link to gone.txt", "does not exist"]),
    # tomllib keeps every prefix of a dotted key: this 200 KB line would take tens of GB
    ("toml-dotted-key-100000-deep", {TOML: "a." * 100_000 + "a = 1\n"}, ["version"], {},
     3, ["line 1 nests 100000 deep", "fix that line"]),
    ("toml-table-header-deep", {TOML: "x = 1\n[" + "t." * 40 + "t]\n"}, ["version"], {},
     3, ["line 2 nests 41 deep"]),
    ("toml-arrays-deep", {TOML: "a = " + "[" * 5000 + "]" * 5000 + "\n"}, ["version"], {},
     3, ["line 1 nests 5000 deep"]),
    ("toml-arrays-deep-over-lines", {TOML: "a = " + "[\n" * 600 + "]\n" * 600}, ["version"],
     {}, 3, ["line 600 nests 600 deep"]),
    ("toml-inline-tables-deep", {TOML: "a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n"},
     ["version"], {}, 3, ["nests 3000 deep"]),
    ("toml-timeout-inf", {TOML: "[scan]\ntimeout = inf\n"}, ["version"], {},
     3, ["scan.timeout"]),
    ("toml-timeout-nan", {TOML: "[scan]\npoll_interval = nan\n"}, ["version"], {},
     3, ["scan.poll_interval"]),
    ("version-file-utf32", {"version.txt": "1.0.0\n".encode("utf-32")}, ["version"], {},
     4, ["UTF-32"]),
    ("version-file-dangling-link", {"version.txt": LINK_TO_NOWHERE}, ["version"], {},
     4, ["symbolic link", "does not exist"]),
    ("version-file-folder", {"version.txt": FOLDER}, ["version"], {}, 4, ["is a folder"]),
    ("version-file-fifo", {"version.txt": FIFO}, ["version"], {}, 4, ["not a regular file"]),
    ("git-dubious-ownership", {}, ["version"], {"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"},
     5, ["dubious ownership", "git config --global --add safe.directory"]),
    ("git-dubious-ownership-manual-version", {}, ["version", "--version", "1.2.3"],
     {"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}, 5, ["dubious ownership"]),
    ("version-file-two-lines", {"version.txt": "1.0.0\n2.0.0\n"}, ["version"], {},
     4, ["holds 2 lines", "one line"]),
    ("version-file-two-versions-cr", {"version.txt": "1.0.0\r1.1.0"}, ["version"], {},
     4, ["holds 2 lines"]),
    ("version-file-utf16", {"version.txt": "1.0.0\n".encode("utf-16")}, ["version"], {},
     4, ["UTF-16", "UTF-8"]),
    ("version-file-utf16-no-bom", {"version.txt": "1.0.0\n".encode("utf-16-le")},
     ["version"], {}, 4, ["UTF-16"]),
    ("version-file-binary", {"version.txt": b"\x89PNG\r\n\x1a\n\x00\x00"}, ["version"], {},
     4, ["not a text file"]),
    ("version-file-latin1", {"version.txt": b"1.0.0\xe9\n"}, ["version"], {},
     4, ["not UTF-8"]),
    ("version-file-escape-sequence", {"version.txt": "1.0.0\x1b[2J"}, ["version"], {},
     4, ["not a text file"]),
    ("version-file-huge", {"version.txt": "1.0.0" + " " * 5000}, ["version"], {},
     4, ["too large"]),
    ("version-file-bom-and-garbage", {"version.txt": "\ufeffone\n"}, ["version"], {},
     4, ["holds 'one'"]),
    ("region-env-garbage", {}, ["scan", "latest"], {"AWS_REGION": "not a region!"},
     2, ["AWS_REGION", "not an AWS region"]),
    ("region-default-env-garbage", {}, ["scan", "latest"],
     {"AWS_DEFAULT_REGION": "us_east_1"}, 2, ["AWS_DEFAULT_REGION"]),
    ("region-config-garbage", {TOML: '[service]\nregion = "Seoul"\n'}, ["scan", "latest"],
     NO_REGION, 2, ["service.region", "'Seoul'"]),
    ("region-env-newline", {}, ["scan", "latest"], {"AWS_REGION": "us-east-1\nx"},
     2, ["AWS_REGION"]),
]


def _write(repo, files: dict) -> None:
    for name, content in files.items():
        path = repo.project / name
        path.unlink(missing_ok=True)
        if content is FOLDER:
            path.mkdir()
        elif content is FIFO:
            os.mkfifo(path)
        elif content is LINK_TO_NOWHERE:
            path.symlink_to("gone.txt")
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _assert_refused(result, code: int, words: list[str]) -> None:
    assert result.code == code, (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err and "unexpected" not in result.err
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize(("files", "args", "env", "code", "words"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_one_line_and_no_change(
        repo, shipyard, files, args, env, code, words) -> None:
    _write(repo, files)
    before = repo.state()
    result = shipyard(repo, *args, env=env)
    _assert_refused(result, code, words)
    assert result.out == ""
    assert repo.state() == before


# --- registry hosts: one syntax check wherever a host is read -----------------------------

PROD = {TOML: '[environments.prod]\ncluster = "c"\nservice = "s"\n'
              'task_definition = "td.json"\n', "td.json": '{"family": "f"}\n'}
HOST_CASES = [
    *[(f"registry-env-{name}", {}, ["push", "--dry-run", "--version", "1.0.0"],
       {"SHIPYARD_REGISTRY": value}, 2, ["SHIPYARD_REGISTRY", *words])
      for name, value, words in [
          ("port-not-a-number", "127.0.0.1:abc", ["port 'abc'"]),
          ("port-zero", "127.0.0.1:0", ["port '0'"]),
          ("port-too-big", "127.0.0.1:99999", ["port '99999'"]),
          ("port-empty", "localhost:", ["port ''"]),
          ("path", "127.0.0.1:5000/v2", ["is not HOST or HOST:PORT"]),
          ("query", "127.0.0.1:5000?x=1", ["is not HOST or HOST:PORT"]),
          ("underscore", "my_registry:5000", ["is not HOST or HOST:PORT"]),
          ("two-colons", "a:1:2", ["is not HOST or HOST:PORT"]),
          ("ipv6-unclosed", "[::1:5000", ["is not HOST or HOST:PORT"]),
          ("credentials", "user:pw@127.0.0.1:5000", ["must not contain credentials"])]],
    *[(f"render-image-host-{name}", PROD, ["render", "prod", "--image", value], {}, 2,
       ["registry host", *words])
      for name, value, words in [
          ("port-not-a-number", "127.0.0.1:abc/svc:1", ["port 'abc'"]),
          ("port-too-big", "r.example.com:70000/svc:1", ["port '70000'"]),
          ("underscore", "my_registry.local/svc:1", ["is not HOST or HOST:PORT"]),
          ("ipv6-unclosed", "[::1:5000/svc:1", ["is not HOST or HOST:PORT"])]],
]


@pytest.mark.parametrize(("files", "args", "env", "code", "words"),
                         [case[1:] for case in HOST_CASES], ids=[case[0] for case in HOST_CASES])
def test_a_bad_registry_host_is_refused_before_any_call(
        repo, shipyard, files, args, env, code, words) -> None:
    # No AWS credentials or endpoint: the host is refused before anything is asked of AWS.
    _write(repo, files)
    before = repo.state()
    result = shipyard(repo, *args, env={**env, "AWS_ACCESS_KEY_ID": "", "AWS_PROFILE": "",
                                         "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    _assert_refused(result, code, words)
    assert "pw" not in result.err
    assert repo.state() == before


# --- inputs that look odd but are right: accepted, and read as meant ----------------------

ACCEPTED = [
    ("tag-prefix-with-slash", {TOML: '[version]\ntag_prefix = "release/v"\n'},
     "release/v1.3.0", "1.3.0"),
    ("tag-prefix-empty", {TOML: '[version]\ntag_prefix = ""\n'}, "1.3.0", "1.3.0"),
    ("version-file-bom", {"version.txt": "\ufeff1.0.0\r\n"}, None, "1.1.0"),
    ("shipyard-toml-bom", {TOML: '\ufeff[tags]\nmajor = true\n'}, None, "1.1.0"),
    ("integer-for-a-number-and-real-booleans",
     {TOML: "[scan]\ntimeout = 600\n[tags]\nlatest = true\nmajor = false\n"
            "[repository]\nscan_on_push = false\n"}, None, "1.1.0"),
]


@pytest.mark.parametrize(("files", "tag", "version"), [case[1:] for case in ACCEPTED],
                         ids=[case[0] for case in ACCEPTED])
def test_odd_but_valid_input_is_accepted(repo, shipyard, files, tag, version) -> None:
    _write(repo, files)
    if tag:
        repo.commit("release")
        repo.tag(tag)
    result = shipyard(repo, "version", "--bump", "minor")
    assert (result.code, result.out) == (0, f"{version}\n"), result.err
