"""The default output: one tar that is both a docker-archive (manifest.json, read by `docker load`)
and an OCI image layout (oci-layout, index.json, blobs/sha256/), like Docker 25's `docker save`.

Quirks of the format, and why:
- Blobs are named by digest, but a layer's digest is known only after its bytes went by. The sink
  is seekable (a temporary file), so a placeholder header is written, the layer streamed, and the
  header rewritten: each source byte is read once and no layer is buffered.
- Outer headers use the GNU format so a header is always 512 bytes, even for a layer over 8 GiB
  (base-256 size), and the placeholder can be overwritten in place.
- A layer identical to one already written is dropped again (truncated away): docker-archive and
  OCI layouts both refer to blobs by digest, so one copy serves every reference.
- Every member has mtime 0, uid/gid 0 and no owner names, so equal images give equal archives.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from ..image import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    ImageSpec,
    config_document,
    docker_manifest,
    oci_index,
    oci_manifest,
    sha256_digest,
)
from ..layer import BLOCK, write_layer
from ..reference import Reference

OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


@dataclass(frozen=True)
class WrittenImage:
    image_id: str
    manifest_digest: str
    layers: tuple[Descriptor, ...]
    config: bytes


def blob_path(digest: str) -> str:
    algorithm, hex_digest = digest.split(":", 1)
    return f"blobs/{algorithm}/{hex_digest}"


class TarSink:
    """Writes tar members to a seekable binary file."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.names: set[str] = set()

    @staticmethod
    def header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.type = size, kind
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        info.mtime, info.uname, info.gname = 0, "", ""
        return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")

    def directory(self, name: str) -> None:
        self.out.write(self.header(name, 0, tarfile.DIRTYPE))

    def data(self, name: str, data: bytes) -> None:
        if name in self.names:
            return
        self.names.add(name)
        self.out.write(self.header(name, len(data)))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % BLOCK))

    def blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        self.data(blob_path(digest), data)
        return digest

    def streamed_blob(self, produce) -> tuple[str, int]:
        """Write a blob whose digest is known only after `produce(sink)` streamed it."""
        start = self.out.tell()
        self.out.write(b"\0" * BLOCK)
        digest, size = produce(self.out)
        self.out.write(b"\0" * (-size % BLOCK))
        name = blob_path(digest)
        end = self.out.tell()
        self.out.seek(start)
        if name in self.names:
            self.out.truncate()
            return digest, size
        self.names.add(name)
        self.out.write(self.header(name, size))
        self.out.seek(end)
        return digest, size

    def close(self) -> None:
        self.out.write(b"\0" * (2 * BLOCK))


def write_archive(spec: ImageSpec, refs: list[Reference], out: BinaryIO) -> WrittenImage:
    """Write `spec` as a combined docker-archive / OCI-layout tar to the seekable `out`."""
    tar = TarSink(out)
    tar.directory("blobs/")
    tar.directory("blobs/sha256/")
    layers = []
    for layer in spec.layers:
        digest, size = tar.streamed_blob(lambda sink, layer=layer: write_layer(layer, sink))
        layers.append(Descriptor(MEDIA_OCI_LAYER, digest, size))
    config = config_document(spec, [layer.digest for layer in layers])
    config_descriptor = Descriptor(MEDIA_OCI_CONFIG, tar.blob(config), len(config))
    manifest = oci_manifest(config_descriptor, layers)
    manifest_descriptor = Descriptor(MEDIA_OCI_MANIFEST, tar.blob(manifest), len(manifest))
    tar.data("index.json", oci_index(manifest_descriptor, refs))
    layer_paths = [blob_path(layer.digest) for layer in layers]
    tar.data("manifest.json", docker_manifest(blob_path(config_descriptor.digest), layer_paths, refs))
    tar.data("oci-layout", OCI_LAYOUT)
    tar.close()
    return WrittenImage(config_descriptor.digest, manifest_descriptor.digest, tuple(layers), config)
