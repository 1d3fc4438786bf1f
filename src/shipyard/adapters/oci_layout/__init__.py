"""An OCI image layout folder, read for pushing: the manifests, the blobs, and their platforms.

An OCI image layout (image-spec `image-layout.md`) is what `buildah push oci:DIR`,
`docker buildx build --output type=oci,tar=false` and `skopeo copy ... oci:DIR` write::

    DIR/oci-layout            {"imageLayoutVersion": "1.0.0"}
    DIR/index.json            an image index: the entry points ("refs") into the layout
    DIR/blobs/sha256/<hex>    every manifest, config and layer, named by its sha256

The entry in `index.json` is the *top-level manifest*: either one image manifest, or an image
index whose children are per-platform image manifests (`linux/amd64`, `linux/arm64/v8`, ...).
Opening a layout reads and verifies the manifests and configs (small JSON documents) and checks
that every layer file exists with its declared size. Layers are only ever streamed, in chunks,
with their sha256 checked on the way (`OciLayout.iter_blob`), so a multi-gigabyte layer never
sits in memory.

Example::

    layout = OciLayout.open("build/oci")
    layout.digest, layout.platforms      # "sha256:…", ["linux/amd64", "linux/arm64"]
    for blob in layout.blobs():          # configs and layers, each digest once
        for chunk in layout.iter_blob(blob):
            ...

The package, one job a module: `descriptor` (media types, size limits, digests, Descriptor and
ImageManifest), `reader` (reading and checking a layout folder), `layout` (OciLayout: the
verified layout, its platforms and blobs, and streaming them), `base_layers` (a built image's
manifest naming its base image's layer blobs; pure) and `writer` (new manifests into a
layout); those two are imported by their module path, only by a push that builds.
"""

from __future__ import annotations

from shipyard.adapters.oci_layout.descriptor import (
    BASE_DIGEST_ANNOTATION,
    BASE_NAME_ANNOTATION,
    BLOB_CHUNK_BYTES,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    IMAGE_MANIFEST_MEDIA_TYPES,
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    REF_NAME_ANNOTATION,
    Descriptor,
    ImageManifest,
    sha256_digest,
)
from shipyard.adapters.oci_layout.layout import OciLayout

__all__ = [
    "BASE_DIGEST_ANNOTATION",
    "BASE_NAME_ANNOTATION",
    "BLOB_CHUNK_BYTES",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "IMAGE_MANIFEST_MEDIA_TYPES",
    "INDEX_MEDIA_TYPES",
    "MANIFEST_MEDIA_TYPES",
    "MAX_CONFIG_BYTES",
    "MAX_MANIFEST_BYTES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "REF_NAME_ANNOTATION",
    "Descriptor",
    "ImageManifest",
    "OciLayout",
    "sha256_digest",
]
