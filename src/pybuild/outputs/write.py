"""Writes an image into a blob store: layers (streamed, compressed as asked, or copied from the
layer cache), config, OCI manifest, index.json and oci-layout, and for docker-archive output
also manifest.json. `docker load` reads manifest.json; OCI tools read index.json; one tar can
serve both, as Docker 25's `docker save` shows."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from ..oci.blobstore import LayerCache
from ..oci.compression import Compression
from ..oci.model import (
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
from ..oci.layer import CHUNK, HashingWriter, Layer, LayerBlob, write_layer
from ..oci.reference import Reference
from ..progress import Progress
from ..oci.layout import BlobStore, blob_path

OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
NO_CACHE = LayerCache(None)
SILENT = Progress()


@dataclass(frozen=True)
class WrittenImage:
    image_id: str
    manifest_digest: str
    layers: tuple[LayerBlob, ...]
    config: bytes
    up_to_date: bool = False  # the destination already held this image; nothing was written


@dataclass(frozen=True)
class Documents:
    """The JSON documents of an image whose layer blobs are known."""

    config: bytes
    manifest: bytes
    files: dict[str, bytes]  # index.json, oci-layout and (docker type) manifest.json

    @property
    def image_id(self) -> str:
        return sha256_digest(self.config)

    @property
    def manifest_digest(self) -> str:
        return sha256_digest(self.manifest)


def documents(spec: ImageSpec, refs: list[Reference], layers: list[LayerBlob],
              compression: Compression, docker: bool) -> Documents:
    config = config_document(spec, [layer.diff_id for layer in layers])
    config_descriptor = Descriptor(MEDIA_OCI_CONFIG, sha256_digest(config), len(config))
    layer_type = MEDIA_OCI_LAYER + compression.media_suffix
    manifest = oci_manifest(config_descriptor,
                            [Descriptor(layer_type, layer.digest, layer.size) for layer in layers])
    manifest_descriptor = Descriptor(MEDIA_OCI_MANIFEST, sha256_digest(manifest), len(manifest))
    files = {"index.json": oci_index(manifest_descriptor, refs), "oci-layout": OCI_LAYOUT}
    if docker:
        files["manifest.json"] = docker_manifest(
            blob_path(config_descriptor.digest), [blob_path(layer.digest) for layer in layers], refs)
    return Documents(config, manifest, files)


def cached_layers(spec: ImageSpec, compression: Compression, cache: LayerCache) -> list[LayerBlob] | None:
    """Every layer's blob as the cache knows it, or None when any layer is not cached."""
    if not all(isinstance(layer, Layer) for layer in spec.layers):
        return None  # base layers are not in the cache
    found = [cache.lookup(cache.key(layer, compression)) for layer in spec.layers]
    return None if any(blob is None for blob in found) else found  # type: ignore[return-value]


class _Tee:
    def __init__(self, *sinks):
        self.sinks = sinks

    def write(self, data) -> None:
        for sink in self.sinks:
            sink.write(data)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()


def _copy_verified(path: Path, sink: BinaryIO, expected: LayerBlob) -> bool:
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "rb") as blob:
            while chunk := blob.read(CHUNK):
                sink.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    except OSError:
        return False
    return "sha256:" + digest.hexdigest() == expected.digest and size == expected.size


def base_layer_producer(layer, compression: Compression,
                        progress: Progress = SILENT) -> Callable[[BinaryIO], LayerBlob]:
    """A base image's layer: its blob as it is when stored as asked, else its tar compressed so."""

    def produce(sink: BinaryIO) -> LayerBlob:
        if layer.compression == compression.name:
            blob = LayerBlob(layer.diff_id, layer.digest, layer.size)
            if not _copy_verified(layer.blob, sink, blob):
                raise OSError(f"base layer {layer.digest} changed on disk during the build")
        else:
            stored = HashingWriter(sink)
            writer = compression.writer(stored)
            with open(layer.tar, "rb") as tar:
                while chunk := tar.read(CHUNK):
                    writer.write(chunk)
            writer.close()
            blob = LayerBlob(layer.diff_id, stored.digest, stored.size)
        progress.layer_finished(blob.diff_id, blob.digest, blob.size, cached=False)
        return blob

    return produce


def layer_producer(layer: Layer, compression: Compression, cache: LayerCache,
                   progress: Progress = SILENT) -> Callable[[BinaryIO], LayerBlob]:
    """How to put one layer's blob into a sink: copied from the cache when it holds it intact,
    else built from the sources (and, when compressed, kept in the cache on the way)."""
    key = cache.key(layer, compression)
    hit = cache.lookup(key)
    keep_blob = cache.enabled and compression.name != "uncompressed"

    def produce(sink: BinaryIO) -> LayerBlob:
        start = sink.tell()
        cached = cache.blob_file(hit.digest) if hit is not None and keep_blob else None
        if cached is not None and cached.is_file():
            if _copy_verified(cached, sink, hit):
                progress.layer_finished(hit.diff_id, hit.digest, hit.size, cached=True)
                return hit
            sink.seek(start)  # corrupt: never used; rebuilt below
            sink.truncate()
            cached.unlink(missing_ok=True)
        spare = cache.blob_sink() if keep_blob else None
        try:
            blob = write_layer(layer, _Tee(sink, spare) if spare else sink, compression, progress)
            if spare is not None:
                spare.close()
                target = cache.blob_file(blob.digest)
                os.replace(spare.name, target)
        except BaseException:
            if spare is not None:
                spare.close()
                Path(spare.name).unlink(missing_ok=True)
            raise
        cache.remember(key, blob)
        progress.layer_finished(blob.diff_id, blob.digest, blob.size, cached=False)
        return blob

    return produce


def write_image(spec: ImageSpec, refs: list[Reference], store: BlobStore,
                compression: Compression = Compression(), docker: bool = True,
                cache: LayerCache = NO_CACHE, progress: Progress = SILENT) -> WrittenImage:
    layers = []
    for number, layer in enumerate(spec.layers, start=1):
        files = [entry for entry in layer.entries if entry.kind != "dir"]
        progress.layer_started(number, len(spec.layers), layer.created_by, len(files),
                               sum(entry.size for entry in files))
        produce = (layer_producer(layer, compression, cache, progress) if isinstance(layer, Layer)
                   else base_layer_producer(layer, compression, progress))
        layers.append(store.streamed_blob(produce))
    docs = documents(spec, refs, layers, compression, docker)
    store.blob(docs.config)
    store.blob(docs.manifest)
    for name, data in docs.files.items():
        store.file(name, data)
    store.close()
    return WrittenImage(docs.image_id, docs.manifest_digest, tuple(layers), docs.config)
