"""A CycloneDX SBOM of one platform image: its Debian packages and its Python distributions.

The inventory comes from what the image itself records, not from guessing at files: the dpkg
database (`var/lib/dpkg/status`, and the `status.d/` files of distroless images) for Debian
packages, and each installed distribution's metadata (`*.dist-info/METADATA`,
`*.egg-info/PKG-INFO`, or an `*.egg-info` file, as Debian's python3 packages have) for
Python. Each component has a package URL (purl):
`pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12`,
`pkg:pypi/fastapi@0.115.0`. The document is CycloneDX 1.5 JSON, the same bytes for the same
image (its serial number is derived from the image digest, its timestamp is the image's
creation time), so attaching it twice attaches one artifact.

Pure: the files are read from the image's layers by an adapter.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPEC_VERSION = "1.5"

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_DIR = "var/lib/dpkg/status.d/"
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
_PYTHON_METADATA = re.compile(
    r"(^|/)(site|dist)-packages/[^/]+\.(dist-info/METADATA|egg-info/PKG-INFO|egg-info)$")


def is_inventory_file(path: str) -> bool:
    """Whether a file of the image (a path without a leading slash) feeds the SBOM."""
    return (path == DPKG_STATUS or (path.startswith(DPKG_STATUS_DIR)
                                    and "/" not in path[len(DPKG_STATUS_DIR):])
            or path in OS_RELEASE or bool(_PYTHON_METADATA.search(path)))


@dataclass(frozen=True, order=True)
class Component:
    """One package of the image."""

    kind: str  # "deb" or "pypi"
    name: str
    version: str
    purl: str
    architecture: str = ""
    found_in: str = ""  # the file that records it


def os_release(files: Mapping[str, bytes]) -> dict[str, str]:
    """The image's os-release fields (`ID`, `VERSION_ID`, ...); {} when it has none."""
    for path in OS_RELEASE:
        if path in files:
            fields = {}
            for line in files[path].decode("utf-8", "replace").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip().isidentifier():
                    fields[key.strip()] = value.strip().strip('"').strip("'")
            return fields
    return {}


def debian_packages(files: Mapping[str, bytes], release: Mapping[str, str]) -> list[Component]:
    """The installed packages the dpkg database lists (config-files leftovers are not)."""
    distro = release.get("ID", "debian") or "debian"
    version_id = release.get("VERSION_ID", "")
    found = []
    for path in sorted(p for p in files if p == DPKG_STATUS or p.startswith(DPKG_STATUS_DIR)):
        for fields in _paragraphs(files[path].decode("utf-8", "replace")):
            status = fields.get("Status", "install ok installed").split()
            name, version = fields.get("Package", ""), fields.get("Version", "")
            if not name or not version or status[-1:] != ["installed"]:
                continue
            architecture = fields.get("Architecture", "")
            qualifiers = [f"arch={architecture}"] if architecture else []
            if version_id:
                qualifiers.append(f"distro={distro}-{version_id}")
            purl = (f"pkg:deb/{quote(distro)}/{quote(name)}@{quote(version, safe='')}"
                    + ("?" + "&".join(qualifiers) if qualifiers else ""))
            found.append(Component("deb", name, version, purl, architecture, path))
    return _unique(found)


def python_distributions(files: Mapping[str, bytes]) -> list[Component]:
    """The Python distributions installed, from their metadata files."""
    found = []
    for path in sorted(p for p in files if _PYTHON_METADATA.search(p)):
        headers = _paragraphs(files[path].decode("utf-8", "replace"), first_only=True)
        fields = headers[0] if headers else {}
        name, version = fields.get("Name", ""), fields.get("Version", "")
        if not name or not version:
            continue
        normal = re.sub(r"[-_.]+", "-", name).lower()
        found.append(Component("pypi", name, version,
                               f"pkg:pypi/{quote(normal)}@{quote(version, safe='')}", "", path))
    return _unique(found)


def cyclonedx(*, image: str, digest: str, platform: str, created: str,
              files: Mapping[str, bytes], tool_version: str) -> dict[str, Any]:
    """The CycloneDX 1.5 document of one platform image (`image` is registry/repository)."""
    release = os_release(files)
    components = [*debian_packages(files, release), *python_distributions(files)]
    document: dict[str, Any] = {
        "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{image}@{digest}')}",
        "version": 1,
        "metadata": {
            **({"timestamp": created} if created else {}),
            "tools": {"components": [{"type": "application", "name": "shipyard",
                                      "version": tool_version}]},
            "component": {"type": "container", "bom-ref": digest, "name": image,
                          "version": digest,
                          "properties": [{"name": "shipyard:platform", "value": platform}]},
        },
        "components": [],
    }
    if release.get("ID"):
        document["components"].append({
            "type": "operating-system", "bom-ref": f"os:{release['ID']}",
            "name": release["ID"], "version": release.get("VERSION_ID", ""),
            "description": release.get("PRETTY_NAME", "")})
    for component in components:
        entry: dict[str, Any] = {
            "type": "library", "bom-ref": component.purl, "name": component.name,
            "version": component.version, "purl": component.purl,
            "properties": [{"name": "shipyard:found-in", "value": component.found_in}]}
        document["components"].append(entry)
    return document


def component_counts(document: Mapping[str, Any]) -> dict[str, int]:
    """How many components of each package type an SBOM lists (`deb`, `pypi`)."""
    counts: dict[str, int] = {}
    for component in document.get("components") or []:
        purl = str(component.get("purl", ""))
        if purl.startswith("pkg:"):
            kind = purl[4:].split("/", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def _paragraphs(text: str, first_only: bool = False) -> list[dict[str, str]]:
    """RFC 822-style stanzas (dpkg's status file, Python's METADATA headers): the fields of
    each, continuation lines folded into the field before."""
    stanzas: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if fields:
                stanzas.append(fields)
                if first_only:
                    return stanzas
            fields, last = {}, ""
            continue
        if line[0] in " \t":
            if last:
                fields[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            fields.setdefault(last, value.strip())
    if fields:
        stanzas.append(fields)
    return stanzas


def _unique(components: Iterable[Component]) -> list[Component]:
    seen: dict[str, Component] = {}
    for component in components:
        seen.setdefault(component.purl, component)
    return sorted(seen.values(), key=lambda c: (c.kind, c.name.lower(), c.version))


# --- the SBOM as an OCI artifact attached to its image ---------------------------------------

SBOM_SUFFIX = ".sbom"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"
_TITLE = "org.opencontainers.image.title"


def sbom_tag(digest: str) -> str:
    """The tag the SBOM of image `digest` is stored under, `sha256-<hex>.sbom` (cosign's name
    for an attached SBOM), so registries without the referrers API find it too."""
    algorithm, _, hex_digest = digest.partition(":")
    return f"{algorithm}-{hex_digest}{SBOM_SUFFIX}"


def sbom_manifest(sbom: bytes, sbom_digest: str, config_digest: str,
                  subject: Mapping[str, Any]) -> bytes:
    """An OCI 1.1 artifact manifest carrying the SBOM, its `subject` the platform image (so a
    registry with the referrers API lists it among the image's referrers)."""
    document = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": CYCLONEDX_MEDIA_TYPE,
        "config": {"mediaType": EMPTY_CONFIG_MEDIA_TYPE, "digest": config_digest,
                   "size": len(EMPTY_CONFIG)},
        "layers": [{"mediaType": CYCLONEDX_MEDIA_TYPE, "digest": sbom_digest,
                    "size": len(sbom), "annotations": {_TITLE: "sbom.cdx.json"}}],
        "subject": dict(subject),
    }
    return json.dumps(document, separators=(",", ":")).encode()
