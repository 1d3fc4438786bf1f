"""Base images and the layers a build writes anew from them, for tests of base-layer reuse.

buildah exports a base image's layers gzipped again: the same tar (the same diff_id) in other
bytes. `recompressed` does the same to a `Layer`; `text_layer` makes a layer that compresses,
so that two gzip settings give different bytes::

    base = text_layer("etc/os-release", "debian")       # the base image's blob
    rebuilt = recompressed(base)                          # what a build writes for it
    rebuilt.diff_id == base.diff_id and rebuilt.blob != base.blob
"""

from __future__ import annotations

import gzip

from shipyard_testing.oci_layouts import Layer, tar_layer


def text_layer(name: str, words: str) -> Layer:
    """A gzipped tar of one text file, `words` repeated: content gzip levels treat apart."""
    return tar_layer({name: (f"{words} " * 2000).encode()})


def recompressed(layer: Layer, level: int = 9) -> Layer:
    """The same tar gzipped again with another level and header time: another blob, the same
    diff_id."""
    again = Layer(gzip.compress(gzip.decompress(layer.blob), compresslevel=level, mtime=1),
                  layer.diff_id)
    assert again.blob != layer.blob
    return again
