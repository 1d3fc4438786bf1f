"""The SBOM's inventory: dpkg's database, os-release and Python metadata become CycloneDX
components with package URLs; the same image gives the same document."""

from __future__ import annotations

import json

from shipyard.domain.sbom import (
    component_counts,
    cyclonedx,
    debian_packages,
    is_inventory_file,
    os_release,
    python_distributions,
    sbom_manifest,
    sbom_tag,
)

STATUS = b"""Package: openssl
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 3.0.15-1~deb12u1
Description: Secure Sockets Layer toolkit
 This package contains the openssl binary.

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u9

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: epoch-pkg
Status: install ok installed
Architecture: all
Version: 1:2.0-1
"""
OS = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
METADATA = b"Metadata-Version: 2.1\nName: Fast_API.Thing\nVersion: 0.115.0\n\nLong text\n"
FILES = {
    "var/lib/dpkg/status": STATUS,
    "etc/os-release": OS,
    "usr/local/lib/python3.12/site-packages/Fast_API.Thing-0.115.0.dist-info/METADATA":
        METADATA,
}


def test_the_files_that_feed_the_inventory() -> None:
    assert all(is_inventory_file(path) for path in FILES)
    assert is_inventory_file("var/lib/dpkg/status.d/base")
    assert is_inventory_file("usr/lib/python3/dist-packages/six.egg-info/PKG-INFO")
    assert is_inventory_file("usr/lib/python3/dist-packages/six-1.16.0.egg-info")  # a file
    for other in ("var/lib/dpkg/status-old", "var/lib/dpkg/status.d/x/y", "etc/passwd",
                  "app/site-packages/x.dist-info/RECORD"):
        assert not is_inventory_file(other)


def test_installed_debian_packages_with_purls() -> None:
    packages = debian_packages(FILES, os_release(FILES))
    assert [(p.name, p.version) for p in packages] == [
        ("epoch-pkg", "1:2.0-1"), ("libc6", "2.36-9+deb12u9"), ("openssl", "3.0.15-1~deb12u1")]
    assert packages[0].purl == "pkg:deb/debian/epoch-pkg@1%3A2.0-1?arch=all&distro=debian-12"
    assert packages[2].purl == \
        "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12"


def test_python_distributions_with_normalized_purls() -> None:
    [dist] = python_distributions(FILES)
    assert (dist.name, dist.version, dist.purl) == ("Fast_API.Thing", "0.115.0",
                                                    "pkg:pypi/fast-api-thing@0.115.0")


def test_the_document_is_cyclonedx_and_the_same_for_the_same_image() -> None:
    make = lambda: cyclonedx(image="r/app", digest="sha256:" + "a" * 64,  # noqa: E731
                             platform="linux/amd64", created="2026-03-04T05:06:07Z",
                             files=FILES, tool_version="1.0")
    document = make()
    assert json.dumps(document) == json.dumps(make())
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.5")
    assert document["metadata"]["component"]["type"] == "container"
    assert document["components"][0] == {
        "type": "operating-system", "bom-ref": "os:debian", "name": "debian", "version": "12",
        "description": "Debian GNU/Linux 12 (bookworm)"}
    assert component_counts(document) == {"deb": 3, "pypi": 1}


def test_an_image_without_a_package_database_has_no_components() -> None:
    document = cyclonedx(image="r/app", digest="sha256:" + "b" * 64, platform="linux/arm64",
                         created="", files={}, tool_version="1.0")
    assert document["components"] == [] and "timestamp" not in document["metadata"]


def test_the_artifact_names_its_image_as_subject() -> None:
    subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": "sha256:" + "c" * 64, "size": 10}
    manifest = json.loads(sbom_manifest(b"{}", "sha256:" + "d" * 64, "sha256:" + "e" * 64,
                                        subject))
    assert manifest["subject"] == subject
    assert manifest["artifactType"] == "application/vnd.cyclonedx+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert sbom_tag("sha256:" + "c" * 64) == "sha256-" + "c" * 64 + ".sbom"
