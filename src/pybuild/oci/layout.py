"""The OCI image layout, written: blobs named by digest, `index.json`, `oci-layout`, and for a
docker-archive also `manifest.json`, which `docker load` reads (one tar can serve both, as
Docker 25's `docker save` shows). This module is the one place that knows where a blob lives.

Blobs are named by digest, but a layer's digest is known only after its bytes went by:
- TarLayout writes a placeholder header, streams the layer, then rewrites the header in place
  (the sink is a seekable file). Headers use the GNU format so a header is always 512 bytes,
  even for a layer over 8 GiB (base-256 size). Every member has mtime 0, uid/gid 0 and no
  owner names, so equal images give equal archives.
- DirLayout streams into a temporary file beside the blobs and renames it to its digest.
Both store a blob once, however often it is referenced (a repeated layer is dropped again).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ..events import QUIET, Reporter
from .attestation import Subject, attestation_manifest, index_entry, statement
from .compression import Compression
from .model import (
    EMPTY_JSON,
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
    Annotation,
    Descriptor,
    Image,
    Index,
    LayerBlob,
    Manifest,
    WrittenImage,
    annotations_at,
    canonical_json,
    sha256_digest,
    tagged_index,
)
from .reference import Reference
from .sinks import BLOCK

if TYPE_CHECKING:
    from .blobstore import BlobStore
    from .layer import Layer

BLOBS = "blobs"
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


def blob_path(digest: str) -> str:
    """Where a blob lives in a layout (and in the blob store): `blobs/ALGORITHM/HEX`."""
    algorithm, hex_digest = digest.split(":", 1)
    return f"{BLOBS}/{algorithm}/{hex_digest}"


def blob_digest(path: str) -> str | None:
    """The digest a layout path names, or None for a path that is not a blob's."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == BLOBS:
        return f"{parts[1]}:{parts[2]}"
    return None


class LayoutWriter(Protocol):
    def streamed_blob(
        self, produce: Callable[[BinaryIO], LayerBlob], *, known: LayerBlob | None = None
    ) -> LayerBlob:
        """Write the blob `produce` makes; `known` is it when the cache already holds it."""

    def blob(self, data: bytes) -> str: ...

    def file(self, name: str, data: bytes) -> None: ...

    def close(self) -> None: ...


class TarLayout:
    """Members of one tar, written to a seekable binary file."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.names: set[str] = set()
        self._directory(f"{BLOBS}/")
        self._directory(f"{Path(blob_path('sha256:x')).parent}/")

    @staticmethod
    def header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.type = size, kind
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        info.mtime, info.uname, info.gname = 0, "", ""
        return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")

    def _directory(self, name: str) -> None:
        self.out.write(self.header(name, 0, tarfile.DIRTYPE))

    def file(self, name: str, data: bytes) -> None:
        if name in self.names:
            return
        self.names.add(name)
        self.out.write(self.header(name, len(data)))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % BLOCK))

    def blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        self.file(blob_path(digest), data)
        return digest

    def streamed_blob(
        self, produce: Callable[[BinaryIO], LayerBlob], *, known: LayerBlob | None = None
    ) -> LayerBlob:
        start = self.out.tell()
        self.out.write(b"\0" * BLOCK)
        written = produce(self.out)
        self.out.write(b"\0" * (-written.size % BLOCK))
        name = blob_path(written.digest)
        end = self.out.tell()
        self.out.seek(start)
        if name in self.names:
            self.out.truncate()
            return written
        self.names.add(name)
        self.out.write(self.header(name, written.size))
        self.out.seek(end)
        return written

    def close(self) -> None:
        self.out.write(b"\0" * (2 * BLOCK))


class DirLayout:
    """An OCI image layout as a directory."""

    def __init__(self, root: Path):
        self.root = root
        self.blobs = root / Path(blob_path("sha256:x")).parent
        self.blobs.mkdir(parents=True, exist_ok=True)

    def file(self, name: str, data: bytes) -> None:
        (self.root / name).write_bytes(data)

    def blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        self.file(blob_path(digest), data)
        return digest

    def streamed_blob(
        self, produce: Callable[[BinaryIO], LayerBlob], *, known: LayerBlob | None = None
    ) -> LayerBlob:
        with tempfile.NamedTemporaryFile(dir=self.blobs, prefix=".partial-", delete=False) as out:
            written = produce(out)  # type: ignore[arg-type]
        os.replace(out.name, self.root / blob_path(written.digest))
        return written

    def close(self) -> None:
        pass


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

    def written(self, layers: list[LayerBlob], up_to_date: bool = False) -> WrittenImage:
        return WrittenImage(
            self.image_id, self.manifest_digest, tuple(layers), self.config, up_to_date
        )


def documents(
    image: Image,
    refs: list[Reference],
    layers: list[LayerBlob],
    *,
    compression: Compression,
    docker: bool,
    annotations: tuple[Annotation, ...] = (),
) -> Documents:
    """The config, the manifest (with the `manifest` annotations for its platform) and the
    layout's files naming that manifest (with the `manifest-descriptor` ones)."""
    platform = image.config.platform
    config = image.config.to_json([layer.diff_id for layer in layers])
    config_descriptor = Descriptor(MEDIA_OCI_CONFIG, sha256_digest(config), len(config))
    layer_type = MEDIA_OCI_LAYER + compression.media_suffix
    manifest = Manifest(
        config_descriptor,
        tuple(Descriptor(layer_type, layer.digest, layer.size) for layer in layers),
        annotations=annotations_at(annotations, "manifest", platform),
    ).to_json()
    manifest_descriptor = Descriptor(MEDIA_OCI_MANIFEST, sha256_digest(manifest), len(manifest))
    described = annotations_at(annotations, "manifest-descriptor", platform)
    files = {
        "index.json": tagged_index(manifest_descriptor, refs, described).to_json(),
        "oci-layout": OCI_LAYOUT,
    }
    if docker:
        files["manifest.json"] = canonical_json(
            [
                {
                    "Config": blob_path(config_descriptor.digest),
                    "RepoTags": [ref.familiar for ref in refs],
                    "Layers": [blob_path(layer.digest) for layer in layers],
                }
            ]
        )
    return Documents(config, manifest, files)


def known_blobs(image: Image, compression: Compression, cache: BlobStore) -> list[LayerBlob] | None:
    """Every layer's blob as known without writing it, or None when any is not."""
    found = [layer.known_blob(compression, cache) for layer in image.layers]
    return None if any(blob is None for blob in found) else found  # type: ignore[return-value]


def write_image(
    image: Image,
    refs: list[Reference],
    layout: LayoutWriter,
    *,
    compression: Compression,
    docker: bool,
    cache: BlobStore,
    reporter: Reporter = QUIET,
    annotations: tuple[Annotation, ...] = (),
) -> WrittenImage:
    """Write every layer blob, then the config, the manifest and the layout's files."""
    layers = _write_layers(image, layout, compression=compression, cache=cache, reporter=reporter)
    docs = documents(
        image, refs, layers, compression=compression, docker=docker, annotations=annotations
    )
    layout.blob(docs.config)
    layout.blob(docs.manifest)
    for name, data in docs.files.items():
        layout.file(name, data)
    layout.close()
    return docs.written(layers)


def needs_index(images: list[Image], annotations: tuple[Annotation, ...] = ()) -> bool:
    """Whether the image is written as an index: several platforms, attestations to attach
    beside a manifest, or annotations asked for on an index."""
    return (
        len(images) > 1
        or any(image.attestations for image in images)
        or any(item.place.startswith("index") for item in annotations)
    )


def write_images(
    images: list[Image],
    refs: list[Reference],
    layout: LayoutWriter,
    *,
    compression: Compression,
    cache: BlobStore,
    reporter: Reporter = QUIET,
    docker: Image | None = None,
    annotations: tuple[Annotation, ...] = (),
) -> WrittenImage:
    """One image as it is, or as an image index (see needs_index); `docker` is the image
    manifest.json names (None: no manifest.json)."""
    if not needs_index(images, annotations):
        return write_image(
            images[0],
            refs,
            layout,
            compression=compression,
            docker=docker is not None,
            cache=cache,
            reporter=reporter,
            annotations=annotations,
        )
    return write_index(
        images,
        refs,
        layout,
        compression=compression,
        cache=cache,
        reporter=reporter,
        docker=docker,
        annotations=annotations,
    )


def write_index(
    images: list[Image],
    refs: list[Reference],
    layout: LayoutWriter,
    *,
    compression: Compression,
    cache: BlobStore,
    reporter: Reporter = QUIET,
    docker: Image | None = None,
    annotations: tuple[Annotation, ...] = (),
) -> WrittenImage:
    """Images (one per platform) as BuildKit writes them: each image's blobs and manifest (a
    layer the same for several platforms is stored once: the layouts keep one blob per digest),
    then each image's attestation manifest (oci/attestation.py), an image index listing them
    all, and index.json naming that index once per tag. Its digest stands for the image: what
    is pushed, printed and tagged. With `docker` (one of `images`), manifest.json names that
    image under the tags, so that `docker load` of any version loads and tags it."""
    manifests, attached, every_layer, configs = [], [], [], []
    made: dict[object, LayerBlob] = {}
    for image in images:
        layers = _write_layers(
            image, layout, compression=compression, cache=cache, reporter=reporter, made=made
        )
        docs = documents(
            image,
            refs,
            layers,
            compression=compression,
            docker=image is docker,
            annotations=annotations,
        )
        if "manifest.json" in docs.files:
            layout.file("manifest.json", docs.files["manifest.json"])
        layout.blob(docs.config)
        layout.blob(docs.manifest)
        configs.append(docs.config)
        platform = image.config.platform
        manifest = Descriptor(MEDIA_OCI_MANIFEST, docs.manifest_digest, len(docs.manifest))
        manifests.append(
            replace(
                manifest,
                annotations=annotations_at(annotations, "manifest-descriptor", platform),
                platform=platform,
            )
        )
        if image.attestations:
            subject = Subject(
                manifest, tuple(layer.diff_id for layer in layers), platform, tuple(refs)
            )
            attached.append(_write_attestations(image, subject, layout))
        every_layer += layers
    index = Index(tuple(manifests + attached), annotations_at(annotations, "index")).to_json()
    index_descriptor = Descriptor(MEDIA_OCI_INDEX, layout.blob(index), len(index))
    described = annotations_at(annotations, "index-descriptor")
    layout.file("index.json", tagged_index(index_descriptor, refs, described).to_json())
    layout.file("oci-layout", OCI_LAYOUT)
    layout.close()
    # The index's digest names the image. One platform's image keeps its config digest as
    # its ID (what `docker load` and `docker images` show of it); several are known by the
    # index. The config is the first platform's (what explain and --metadata-file show).
    image_id = sha256_digest(configs[0]) if len(images) == 1 else index_descriptor.digest
    return WrittenImage(image_id, index_descriptor.digest, tuple(every_layer), configs[0])


def _write_attestations(image: Image, subject: Subject, layout: LayoutWriter) -> Descriptor:
    """The image's statements, the empty config and the attestation manifest; its index
    entry."""
    statements = [(item.predicate_type, statement(item, subject)) for item in image.attestations]
    for _, data in statements:
        layout.blob(data)
    layout.blob(EMPTY_JSON)
    manifest = attestation_manifest(subject, statements).to_json()
    layout.blob(manifest)
    return index_entry(manifest, subject.manifest)


def fingerprint(layer: Layer) -> str:
    """What makes a layer's bytes, as one digest of its entries (streamed ones walked, not
    held): equal for the same COPY of the same files on every platform."""
    total = hashlib.sha256(type(layer).__name__.encode())
    for e in layer.entries:
        fields = (e.path, e.kind, e.mode, e.uid, e.gid, e.size, e.mtime, e.linkname)
        where = (str(e.source), e.offset, e.link_group, e.data, e.identity)
        total.update(repr(fields + where).encode("utf-8", "surrogateescape"))
    return total.hexdigest()


def _write_layers(
    image: Image,
    layout: LayoutWriter,
    *,
    compression: Compression,
    cache: BlobStore,
    reporter: Reporter,
    made: dict[object, LayerBlob] | None = None,
) -> list[LayerBlob]:
    """Each layer's blob into `layout`. `made` (several platforms) remembers layers by their
    entries: a layer another platform already wrote (the same COPY of the same files) is not
    built, compressed or written again."""
    layers = []
    for number, layer in enumerate(image.layers, start=1):
        key = fingerprint(layer) if made is not None else None
        if made is not None and key in made:
            blob = made[key]
            reporter.layer_finished(blob.diff_id, blob.digest, blob.size, cached=True)
            layers.append(blob)
            continue
        files, size = layer.totals() if reporter.wants_totals else (None, None)
        reporter.layer_started(number, len(image.layers), layer.created_by, files=files, size=size)
        blob = layout.streamed_blob(
            partial(layer.write_blob, compression=compression, cache=cache, reporter=reporter),
            known=layer.known_blob(compression, cache),
        )
        if made is not None:
            made[key] = blob
        layers.append(blob)
    return layers
