"""An image a registry already holds, as an OciLayout whose blobs stay in the registry.

A promotion (`shipyard push` of a commit whose image exists) adds tags to that image: the
registry client's push finds the top manifest present by digest and then only writes tags,
with the same checks as any push. It needs the manifests' bytes, which this reads; the
configs and layers are never read or sent, so the layout's folder holds none of them (an
image that vanished meanwhile fails the push on a missing blob rather than half-pushing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from shipyard.adapters.oci_layout.descriptor import Descriptor, ImageManifest
from shipyard.adapters.oci_layout.layout import OciLayout
from shipyard.adapters.oci_layout.reader import platform_of
from shipyard.errors import RegistryError


class ManifestReader(Protocol):
    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]: ...
    def get_small_blob(self, repository: str, digest: str) -> bytes: ...


def registry_image(reader: ManifestReader, repository: str, digest: str,
                   folder: Path) -> OciLayout:
    """The image `repository@digest` (an index or one manifest) with its platforms."""
    content, media_type, found = reader.get_manifest(repository, digest)
    top = Descriptor(media_type, found, len(content))
    data = _json(content, repository, digest)
    if top.is_index:
        images = []
        for entry in data.get("manifests") or []:
            child = _descriptor(entry, repository, digest)
            child_content, _, _ = reader.get_manifest(repository, child.digest)
            images.append(_image(child, child_content, repository))
        return OciLayout(path=folder, top=top, top_content=content, images=tuple(images))
    image = _image(top, content, repository)
    config = _json(reader.get_small_blob(repository, image.config.digest), repository,
                   image.config.digest)
    platformed = Descriptor(top.media_type, top.digest, top.size, platform_of(config))
    return OciLayout(path=folder, top=top, top_content=content,
                     images=(ImageManifest(platformed, content, image.config, image.layers),))


def _image(descriptor: Descriptor, content: bytes, repository: str) -> ImageManifest:
    data = _json(content, repository, descriptor.digest)
    config = _descriptor(data.get("config"), repository, descriptor.digest)
    layers = tuple(_descriptor(layer, repository, descriptor.digest)
                   for layer in data.get("layers") or [])
    return ImageManifest(descriptor, content, config, layers)


def _descriptor(data: Any, repository: str, where: str) -> Descriptor:
    try:
        platform = data.get("platform")
        return Descriptor(str(data["mediaType"]), str(data["digest"]), int(data["size"]),
                          platform_of(platform) if isinstance(platform, dict) else None)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"{repository}@{where} has a malformed descriptor in the registry; "
                            "push the image again under a new commit") from exc


def _json(content: bytes, repository: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise RegistryError(f"{repository}@{where} in the registry is not JSON; push the "
                            "image again under a new commit") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"{repository}@{where} in the registry is not a JSON object")
    return data
