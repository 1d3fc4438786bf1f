"""`shipyard sbom` and `push --sbom` on the sandbox: each platform image gets a CycloneDX SBOM
of what its layers install, attached as an OCI artifact (subject: the platform image, tag
`sha256-<hex>.sbom`) and signed; read back with skopeo and plain HTTP, not Shipyard's reader."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from shipyard_testing.oci_layouts import tar_layer, write_oci_layout
from shipyard_testing.registry_reads import (
    assert_signed,
    blob,
    key_pair,
    registry_tags,
    skopeo_raw,
)

pytestmark = pytest.mark.integration

STATUS = (b"Package: openssl\nStatus: install ok installed\nArchitecture: amd64\n"
          b"Version: 3.0.15-1~deb12u1\n\nPackage: zlib1g\nStatus: install ok installed\n"
          b"Architecture: amd64\nVersion: 1:1.2.13.dfsg-1\n")
SITE = "usr/local/lib/python3.12/site-packages"


def layers() -> list:
    """A Debian-like base, then an app layer that installs two Python distributions and
    removes one the base had."""
    base = tar_layer({"var/lib/dpkg/status": STATUS,
                      "usr/lib/os-release": b'ID=debian\nVERSION_ID="12"\n',
                      f"{SITE}/old-0.1.dist-info/METADATA": b"Name: old\nVersion: 0.1\n"})
    app = tar_layer({f"{SITE}/fastapi-0.115.0.dist-info/METADATA":
                     b"Metadata-Version: 2.1\nName: fastapi\nVersion: 0.115.0\n",
                     f"{SITE}/uvicorn-0.30.0.dist-info/METADATA":
                     b"Name: uvicorn\nVersion: 0.30.0\n",
                     f"{SITE}/.wh.old-0.1.dist-info": b""})
    return [base, app]


def test_push_sbom_attaches_and_signs_an_sbom_of_each_platform_image(
        repo, shipyard, sandbox_env, ecr_client, tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "layout", ("linux/amd64", "linux/arm64"),
                              layers=layers(), base=None)
    key, _, public = key_pair(tmp_path)
    pushed = shipyard(repo, "push", "--from-oci", str(layout), "--sbom", "--sign", "--key",
                      str(key), "--json")
    assert pushed.code == 0, pushed.err
    data = pushed.json()
    index = json.loads(skopeo_raw(sandbox_env, ecr_client, data["digest"]))
    for entry in index["manifests"]:
        platform, digest = entry["platform"]["architecture"], entry["digest"]
        artifact = json.loads(skopeo_raw(sandbox_env, ecr_client, f"sha256-{digest[7:]}.sbom"))
        assert artifact["artifactType"] == "application/vnd.cyclonedx+json"
        assert artifact["subject"]["digest"] == digest
        document = json.loads(blob(sandbox_env, ecr_client, artifact["layers"][0]["digest"]))
        assert document["bomFormat"] == "CycloneDX"
        assert document["metadata"]["component"]["version"] == digest
        purls = sorted(c["purl"] for c in document["components"] if "purl" in c)
        assert purls == [
            "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12",
            "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12",
            "pkg:pypi/fastapi@0.115.0", "pkg:pypi/uvicorn@0.30.0"], platform
        # the SBOM artifact is signed like an image, and so is the image
        sbom_digest = "sha256:" + hashlib.sha256(skopeo_raw(
            sandbox_env, ecr_client, f"sha256-{digest[7:]}.sbom")).hexdigest()
        assert_signed(sandbox_env, ecr_client, sbom_digest, public)
        assert_signed(sandbox_env, ecr_client, digest, public)
    assert [s["state"] for s in data["sbom"]["sboms"]] == ["attached", "attached"]

    # again: both SBOMs are there, nothing is read or written again
    tags = {tag: skopeo_raw(sandbox_env, ecr_client, tag)
            for tag in registry_tags(sandbox_env, ecr_client) if tag.startswith("sha256-")}
    again = shipyard(repo, "sbom", "latest", "--json", "--output", str(tmp_path / "out"))
    assert again.code == 0, again.err
    assert [s["state"] for s in again.json()["sboms"]] == ["already attached"] * 2
    assert again.json()["sboms"][0]["components"] == {"deb": 2, "pypi": 2}
    assert {tag: skopeo_raw(sandbox_env, ecr_client, tag) for tag in tags} == tags


def test_sbom_writes_the_documents_it_attaches(repo, shipyard, sandbox_env, ecr_client,
                                               tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "layout", ("linux/amd64",), layers=layers(),
                              base=None)
    pushed = shipyard(repo, "push", "--from-oci", str(layout), "--json")
    assert pushed.code == 0, pushed.err
    # a key that cannot sign, or --key without --sign: refused before anything is written
    before = registry_tags(sandbox_env, ecr_client)
    for args, words in ((["--sign", "--key", str(tmp_path / "absent.key")], "cannot be read"),
                        (["--key", str(tmp_path / "absent.key")], "add --sign")):
        refused = shipyard(repo, "sbom", "1.1.0", *args)
        assert refused.code == 2 and words in refused.err, refused.err
        assert refused.err.count("error:") == 1
    assert registry_tags(sandbox_env, ecr_client) == before
    made = shipyard(repo, "sbom", "1.1.0", "--output", str(tmp_path / "sboms"))
    assert made.code == 0, made.err
    assert "1 attached" in made.out and "2 deb, 2 pypi" in made.out
    written = json.loads((tmp_path / "sboms" / "linux-amd64.cdx.json").read_bytes())
    digest = pushed.json()["digest"]
    artifact = json.loads(skopeo_raw(sandbox_env, ecr_client, f"sha256-{digest[7:]}.sbom"))
    assert json.loads(blob(sandbox_env, ecr_client, artifact["layers"][0]["digest"])) == written
