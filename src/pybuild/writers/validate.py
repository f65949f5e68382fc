"""Reopen a written archive and check it the way loaders do: every blob's bytes hash to its name,
manifest.json, index.json and the OCI manifest agree, and layer digests equal the diff_ids."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PybuildError


class InvalidArchive(PybuildError):
    """The archive would not load."""


@dataclass(frozen=True)
class ArchiveContents:
    manifest: list[dict[str, Any]]
    index: dict[str, Any]
    oci_manifest: dict[str, Any]
    config: dict[str, Any]
    layer_members: dict[str, list[tarfile.TarInfo]]  # blob path -> the layer's tar members


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    try:
        member = tar.extractfile(name)
    except KeyError:
        raise InvalidArchive(f"missing {name}") from None
    if member is None:
        raise InvalidArchive(f"{name} is not a file")
    return member.read()


def _blob(tar: tarfile.TarFile, digest: str) -> bytes:
    data = _read(tar, "blobs/" + digest.replace(":", "/"))
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise InvalidArchive(f"blob {digest} holds bytes hashing to {actual}")
    return data


def validate_archive(path: Path) -> ArchiveContents:
    with tarfile.open(path) as tar:
        manifest = json.loads(_read(tar, "manifest.json"))
        index = json.loads(_read(tar, "index.json"))
        if json.loads(_read(tar, "oci-layout")).get("imageLayoutVersion") != "1.0.0":
            raise InvalidArchive("oci-layout has no imageLayoutVersion 1.0.0")
        digests = {entry["digest"] for entry in index["manifests"]}
        if len(digests) != 1:
            raise InvalidArchive(f"index.json names {len(digests)} manifests, expected 1")
        oci = json.loads(_blob(tar, digests.pop()))
        config_bytes = _blob(tar, oci["config"]["digest"])
        if len(config_bytes) != oci["config"]["size"]:
            raise InvalidArchive("config size differs from its descriptor")
        config = json.loads(config_bytes)
        (entry,) = manifest
        if entry["Config"] != "blobs/" + oci["config"]["digest"].replace(":", "/"):
            raise InvalidArchive("manifest.json and the OCI manifest name different configs")
        diff_ids = config["rootfs"]["diff_ids"]
        layer_paths = ["blobs/" + layer["digest"].replace(":", "/") for layer in oci["layers"]]
        if entry["Layers"] != layer_paths:
            raise InvalidArchive("manifest.json and the OCI manifest list different layers")
        if [layer["digest"] for layer in oci["layers"]] != diff_ids:
            raise InvalidArchive("uncompressed layer digests differ from the config's diff_ids")
        non_empty = [item for item in config["history"] if not item.get("empty_layer")]
        if len(non_empty) != len(diff_ids):
            raise InvalidArchive("history has a different number of layers than rootfs")
        layers = {}
        for descriptor, blob_path in zip(oci["layers"], layer_paths):
            data = _blob(tar, descriptor["digest"])
            if len(data) != descriptor["size"]:
                raise InvalidArchive(f"layer {descriptor['digest']} size differs from its descriptor")
            with tarfile.open(fileobj=io.BytesIO(data)) as layer_tar:
                layers[blob_path] = layer_tar.getmembers()
    return ArchiveContents(manifest, index, oci, config, layers)
