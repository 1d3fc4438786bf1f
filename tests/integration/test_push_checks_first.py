"""`shipyard push` reads and checks everything before its first write (issue 8, item 2).

Each case breaks one check — the registry's reachability, what answers at its address, a
layer's content, a layer that is a FIFO — and asserts the exit code, one error line, and that
nothing was written: no ECR repository, no blob in the registry, no change to the git clone.
`--dry-run` runs the same checks, so it fails the same way instead of saying DRY RUN OK.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import httpx
import pytest

from shipyard_testing.oci_layouts import Layer, sha256

pytestmark = pytest.mark.integration


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def layer_files(layout: Path) -> list[Path]:
    """The layer blobs of a single-image layout, base first."""
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].removeprefix("sha256:")
    manifest = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    return [layout / "blobs" / "sha256" / layer["digest"].removeprefix("sha256:")
            for layer in manifest["layers"]]


def assert_nothing_written(result, repo, before, sandbox_env, ecr_client, layout: Path) -> None:
    # one error line, last; before it only the retry notes of an unreachable registry
    lines = result.err.strip().splitlines()
    assert lines[-1].startswith("error: "), result.err
    assert all(line.startswith("retrying GET /v2/ ") for line in lines[:-1]), result.err
    assert "Traceback" not in result.err and "DRY RUN OK" not in result.out
    assert repo.state() == before
    names = [r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"]]
    assert sandbox_env["ECR_REPOSITORY"] not in names
    # the registry holds none of the layout's blobs (asked with the sandbox's ECR login)
    token = ecr_client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    for blob in (layout / "blobs" / "sha256").iterdir():
        answer = httpx.head(f"http://{sandbox_env['SHIPYARD_REGISTRY']}/v2/"
                            f"{sandbox_env['ECR_REPOSITORY']}/blobs/sha256:{blob.name}",
                            headers={"Authorization": f"Basic {token}"})
        assert answer.status_code in (401, 404), answer.status_code


@pytest.mark.parametrize("dry_run", [False, True], ids=["push", "dry-run"])
@pytest.mark.parametrize("registry", ["unreachable", "not-a-registry"])
def test_a_registry_that_does_not_answer_as_one_stops_before_the_repository(
        repo, shipyard, sandbox_env, ecr_client, single_image_layout, registry, dry_run) -> None:
    address = (f"127.0.0.1:{closed_port()}" if registry == "unreachable"
               else sandbox_env["AWS_ENDPOINT_URL"].removeprefix("http://"))  # moto, not /v2/
    before = repo.state()
    result = shipyard(repo, "push", "--from-oci", str(single_image_layout),
                      *(["--dry-run"] if dry_run else []), env={"SHIPYARD_REGISTRY": address})
    assert result.code == 7, result.err
    assert address in result.err
    assert_nothing_written(result, repo, before, sandbox_env, ecr_client, single_image_layout)


@pytest.mark.parametrize("dry_run", [False, True], ids=["push", "dry-run"])
def test_a_registry_refusing_the_login_stops_first(
        repo, shipyard, sandbox_env, ecr_client, single_image_layout, auth_registry_server,
        dry_run) -> None:
    # A real registry at the address, with other credentials than the ECR login's.
    before = repo.state()
    result = shipyard(repo, "push", "--from-oci", str(single_image_layout),
                      *(["--dry-run"] if dry_run else []),
                      env={"SHIPYARD_REGISTRY": auth_registry_server.host})
    assert result.code == 8, result.err
    assert "GET /v2/" in result.err
    assert_nothing_written(result, repo, before, sandbox_env, ecr_client, single_image_layout)


@pytest.mark.parametrize("dry_run", [False, True], ids=["push", "dry-run"])
def test_a_layer_with_its_size_and_other_content_stops_before_any_write(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory, dry_run) -> None:
    layout = oci_layout_factory()
    corrupt = layer_files(layout)[-1]  # the last layer: others would be uploaded first
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    before = repo.state()
    result = shipyard(repo, "push", "--from-oci", str(layout),
                      *(["--dry-run"] if dry_run else []))
    assert result.code == 2, result.err
    assert f"blob sha256:{corrupt.name}" in result.err
    assert "content does not match its sha256 digest" in result.err
    assert_nothing_written(result, repo, before, sandbox_env, ecr_client, layout)


@pytest.mark.parametrize("kind", ["fifo", "symlink-out"])
def test_a_layer_that_is_not_a_regular_file_in_the_layout_is_refused(
        repo, shipyard, sandbox_env, ecr_client, oci_layout_factory, tmp_path, kind) -> None:
    # An empty layer (size 0) matches what stat says of a FIFO, so only its type gives it away.
    empty = Layer(b"", sha256(b""))
    layout = oci_layout_factory(layers=(empty,), base=None, opaque=True)
    blob = layer_files(layout)[0]
    blob.unlink()
    if kind == "fifo":
        os.mkfifo(blob)
    else:
        outside = tmp_path / "outside"
        outside.write_bytes(b"")
        blob.symlink_to(outside)
    before = repo.state()
    result = shipyard(repo, "push", "--from-oci", str(layout))
    assert result.code == 2, result.err
    assert "is not a regular file inside the layout" in result.err
    assert_nothing_written(result, repo, before, sandbox_env, ecr_client, layout)
