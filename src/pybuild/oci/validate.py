"""Reopen a written image and check it the way loaders do: every blob hashes to its name and
size, index.json, the OCI manifest and (when present) manifest.json agree, and each layer,
decompressed as its media type says, hashes to its diff_id. Works on archives (tar) and on
oci-dir directories. Reads blobs whole: meant for tests and small images."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PybuildError
from .archive import ArchiveError, ImageArchive
from .attestation import REFERENCE_DIGEST, is_attestation
from .compression import SNIFF_BYTES, decompressed, sniff
from .layout import blob_path
from .model import INDEX_TYPES, MEDIA_OCI_LAYER, Descriptor, Index, Manifest, sha256_digest
from .platform import Platform


class InvalidArchive(PybuildError):
    """The image would not load."""


@dataclass(frozen=True)
class ArchiveContents:
    manifest: list[dict[str, Any]] | None  # manifest.json (docker-archive) or None (OCI only)
    index: dict[str, Any]
    oci_manifest: dict[str, Any]
    config: dict[str, Any]
    layer_members: dict[str, list[tarfile.TarInfo]]  # blob path -> the layer's tar members


def _check(archive: ImageArchive, platform: Platform | None) -> ArchiveContents:
    def blob(digest: str, size: int) -> bytes:
        try:
            data = archive.blob(digest)
        except ArchiveError as error:
            raise InvalidArchive(str(error)) from None
        if len(data) != size:
            raise InvalidArchive(f"blob {digest} has {len(data)} bytes, its descriptor says {size}")
        return data

    index_bytes = archive.read("index.json")
    if index_bytes is None:
        raise InvalidArchive("missing index.json")
    index = json.loads(index_bytes)
    typed_index = Index.from_json(index_bytes)
    if json.loads(archive.read("oci-layout") or b"{}").get("imageLayoutVersion") != "1.0.0":
        raise InvalidArchive("oci-layout has no imageLayoutVersion 1.0.0")
    digests = {entry.digest for entry in typed_index.manifests}
    if len(digests) != 1:
        raise InvalidArchive(f"index.json names {len(digests)} manifests, expected 1")
    entry = typed_index.manifests[0]
    oci_bytes = blob(entry.digest, entry.size)
    docker_manifest = archive.read("manifest.json")
    if entry.media_type in INDEX_TYPES:  # several platforms: check the one asked for
        everything = Index.from_json(oci_bytes).manifests
        entries = tuple(item for item in everything if not is_attestation(item))
        for item in everything:
            if is_attestation(item):
                _check_attestation(item, entries, blob)
        if platform is not None:
            entry = Index(entries).for_platform(platform, "the image index")
        elif docker_manifest is not None:  # the image docker load takes
            (named,) = json.loads(docker_manifest)
            entry = next(
                item
                for item in entries
                if blob_path(Manifest.from_json(blob(item.digest, item.size)).config.digest)
                == named["Config"]
            )
        else:
            entry = entries[0]
        oci_bytes = blob(entry.digest, entry.size)
    oci = Manifest.from_json(oci_bytes)
    config = json.loads(blob(oci.config.digest, oci.config.size))
    diff_ids = config["rootfs"]["diff_ids"]
    if len(oci.layers) != len(diff_ids):
        raise InvalidArchive("the manifest and the config list different numbers of layers")
    non_empty = [item for item in config["history"] if not item.get("empty_layer")]
    if len(non_empty) != len(diff_ids):
        raise InvalidArchive("history has a different number of layers than rootfs")
    layer_paths = [blob_path(layer.digest) for layer in oci.layers]
    manifest_data = archive.read("manifest.json")
    manifest = json.loads(manifest_data) if manifest_data is not None else None
    if manifest is not None:
        (docker,) = manifest
        if docker["Config"] != blob_path(oci.config.digest):
            raise InvalidArchive("manifest.json and the OCI manifest name different configs")
        if docker["Layers"] != layer_paths:
            raise InvalidArchive("manifest.json and the OCI manifest list different layers")
    layers = {}
    for descriptor, diff_id, name in zip(oci.layers, diff_ids, layer_paths, strict=True):
        stored = blob(descriptor.digest, descriptor.size)
        said = {"+gzip": "gzip", "+zstd": "zstd"}.get(
            descriptor.media_type.removeprefix(MEDIA_OCI_LAYER)
        )
        if sniff(stored[:SNIFF_BYTES]) != said:
            raise InvalidArchive(
                f"layer {descriptor.digest}: media type {descriptor.media_type} "
                "does not say how it is stored"
            )
        tar_bytes = decompressed(io.BytesIO(stored), said).read()
        if sha256_digest(tar_bytes) != diff_id:
            raise InvalidArchive(f"layer {descriptor.digest} does not uncompress to {diff_id}")
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as layer_tar:
            layers[name] = layer_tar.getmembers()
    return ArchiveContents(manifest, index, json.loads(oci_bytes), config, layers)


def _check_attestation(
    entry: Descriptor, images: tuple[Descriptor, ...], blob: Callable[[str, int], bytes]
) -> None:
    """An attestation manifest names an image of the index, as its index entry says, and each
    statement in it speaks of that image."""
    manifest = Manifest.from_json(blob(entry.digest, entry.size))
    said = entry.annotations.get(REFERENCE_DIGEST)
    if manifest.subject is None or manifest.subject.digest != said:
        raise InvalidArchive(f"attestation manifest {entry.digest} has no subject {said}")
    if said not in {image.digest for image in images}:
        raise InvalidArchive(f"attestation manifest {entry.digest} is about {said}, not listed")
    for layer in manifest.layers:
        statement = json.loads(blob(layer.digest, layer.size))
        subjects = {item["digest"]["sha256"] for item in statement["subject"]}
        if subjects != {said.split(":", 1)[1]}:
            raise InvalidArchive(f"statement {layer.digest} is not about {said}")


def validate_archive(path: Path, platform: Platform | None = None) -> ArchiveContents:
    """Check an image written as a tar (docker or oci type) or as a directory (oci-dir); of an
    image index, the image of `platform` (else the one docker load takes, else the first)."""
    try:
        with ImageArchive(Path(path)) as archive:
            return _check(archive, platform)
    except ArchiveError as error:
        raise InvalidArchive(str(error)) from None
