"""Reopen a written image and check it the way loaders do: every blob hashes to its name and
size, index.json, the OCI manifest and (when present) manifest.json agree, and each layer,
decompressed as its media type says, hashes to its diff_id. Works on archives (tar) and on
oci-dir directories. Reads blobs whole: meant for tests and small images."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from ..errors import PybuildError


class InvalidArchive(PybuildError):
    """The image would not load."""


@dataclass(frozen=True)
class ArchiveContents:
    manifest: list[dict[str, Any]] | None  # manifest.json (docker-archive) or None (OCI only)
    index: dict[str, Any]
    oci_manifest: dict[str, Any]
    config: dict[str, Any]
    layer_members: dict[str, list[tarfile.TarInfo]]  # blob path -> the layer's tar members


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _uncompressed(data: bytes, media_type: str) -> bytes:
    if media_type.endswith("+gzip"):
        return gzip.decompress(data)
    if media_type.endswith("+zstd"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def _check(path: Path, read: Callable[[str], bytes | None]) -> ArchiveContents:
    def required(name: str) -> bytes:
        data = read(name)
        if data is None:
            raise InvalidArchive(f"missing {name}")
        return data

    def blob(digest: str, size: int | None = None) -> bytes:
        data = required("blobs/" + digest.replace(":", "/"))
        if _sha256(data) != digest:
            raise InvalidArchive(f"blob {digest} holds bytes hashing to {_sha256(data)}")
        if size is not None and len(data) != size:
            raise InvalidArchive(f"blob {digest} has {len(data)} bytes, its descriptor says {size}")
        return data

    index = json.loads(required("index.json"))
    if json.loads(required("oci-layout")).get("imageLayoutVersion") != "1.0.0":
        raise InvalidArchive("oci-layout has no imageLayoutVersion 1.0.0")
    digests = {entry["digest"] for entry in index["manifests"]}
    if len(digests) != 1:
        raise InvalidArchive(f"index.json names {len(digests)} manifests, expected 1")
    (entry,) = [e for e in index["manifests"]][:1]
    oci = json.loads(blob(entry["digest"], entry["size"]))
    config = json.loads(blob(oci["config"]["digest"], oci["config"]["size"]))
    diff_ids = config["rootfs"]["diff_ids"]
    if len(oci["layers"]) != len(diff_ids):
        raise InvalidArchive("the manifest and the config list different numbers of layers")
    non_empty = [item for item in config["history"] if not item.get("empty_layer")]
    if len(non_empty) != len(diff_ids):
        raise InvalidArchive("history has a different number of layers than rootfs")
    layer_paths = ["blobs/" + layer["digest"].replace(":", "/") for layer in oci["layers"]]
    manifest_data = read("manifest.json")
    manifest = json.loads(manifest_data) if manifest_data is not None else None
    if manifest is not None:
        (docker,) = manifest
        if docker["Config"] != "blobs/" + oci["config"]["digest"].replace(":", "/"):
            raise InvalidArchive("manifest.json and the OCI manifest name different configs")
        if docker["Layers"] != layer_paths:
            raise InvalidArchive("manifest.json and the OCI manifest list different layers")
    layers = {}
    for descriptor, diff_id, name in zip(oci["layers"], diff_ids, layer_paths):
        tar_bytes = _uncompressed(blob(descriptor["digest"], descriptor["size"]), descriptor["mediaType"])
        if _sha256(tar_bytes) != diff_id:
            raise InvalidArchive(f"layer {descriptor['digest']} does not uncompress to {diff_id}")
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as layer_tar:
            layers[name] = layer_tar.getmembers()
    return ArchiveContents(manifest, index, oci, config, layers)


def validate_archive(path: Path) -> ArchiveContents:
    """Check an image written as a tar (docker or oci type) or as a directory (oci-dir)."""
    path = Path(path)
    if path.is_dir():
        def read_file(name: str) -> bytes | None:
            candidate = path / name
            return candidate.read_bytes() if candidate.is_file() else None

        return _check(path, read_file)
    with tarfile.open(path) as tar:
        def read_member(name: str) -> bytes | None:
            try:
                member = tar.extractfile(name)
            except KeyError:
                return None
            return member.read() if member is not None else None

        return _check(path, read_member)
