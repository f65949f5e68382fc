"""Writes an image into a blob store: layers (streamed, compressed as asked), config, OCI
manifest, index.json and oci-layout, and for docker-archive output also manifest.json.
`docker load` reads manifest.json; OCI tools read index.json; one tar can serve both, as Docker
25's `docker save` shows."""

from __future__ import annotations

from dataclasses import dataclass

from ..compression import Compression
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
)
from ..layer import LayerBlob, write_layer
from ..reference import Reference
from .store import BlobStore, blob_path

OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


@dataclass(frozen=True)
class WrittenImage:
    image_id: str
    manifest_digest: str
    layers: tuple[LayerBlob, ...]
    config: bytes


def write_image(spec: ImageSpec, refs: list[Reference], store: BlobStore,
                compression: Compression = Compression(), docker: bool = True) -> WrittenImage:
    layers = []
    for layer in spec.layers:
        layers.append(store.streamed_blob(
            lambda sink, layer=layer: write_layer(layer, sink, compression)))
    config = config_document(spec, [layer.diff_id for layer in layers])
    config_descriptor = Descriptor(MEDIA_OCI_CONFIG, store.blob(config), len(config))
    layer_type = MEDIA_OCI_LAYER + compression.media_suffix
    manifest = oci_manifest(config_descriptor,
                            [Descriptor(layer_type, layer.digest, layer.size) for layer in layers])
    manifest_descriptor = Descriptor(MEDIA_OCI_MANIFEST, store.blob(manifest), len(manifest))
    store.file("index.json", oci_index(manifest_descriptor, refs))
    if docker:
        store.file("manifest.json", docker_manifest(
            blob_path(config_descriptor.digest), [blob_path(layer.digest) for layer in layers], refs))
    store.file("oci-layout", OCI_LAYOUT)
    store.close()
    return WrittenImage(config_descriptor.digest, manifest_descriptor.digest, tuple(layers), config)
