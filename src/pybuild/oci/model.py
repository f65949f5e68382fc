"""The image model and its JSON documents: config, OCI manifest and index, docker manifest.json.

JSON is canonical (sorted keys, no spaces) so the same image always has the same digests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .layer import Layer
from .platform import Platform
from .reference import Reference

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
SCRATCH_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class HistoryEntry:
    created_by: str
    empty_layer: bool
    created: str | None = None  # a base image's own time; None: this build's

@dataclass(frozen=True)
class ImageSpec:
    """Everything an image is before it is written: layers still unwritten, config fields set."""

    layers: tuple[Layer, ...]
    config: dict[str, Any]
    history: tuple[HistoryEntry, ...]
    platform: Platform
    created: str
    author: str = ""
    warnings: tuple[str, ...] = ()  # things the user should know; not part of the image
    fetched: tuple[str, ...] = ()  # images pulled and URLs downloaded: not known from local files


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            value["annotations"] = dict(self.annotations)
        return value


def config_document(spec: ImageSpec, diff_ids: list[str]) -> bytes:
    """The image config; its sha256 is the image ID."""
    history = []
    for entry in spec.history:
        item: dict[str, Any] = {"created": entry.created or spec.created, "created_by": entry.created_by}
        if entry.empty_layer:
            item["empty_layer"] = True
        history.append(item)
    document: dict[str, Any] = {
        "architecture": spec.platform.architecture,
        "os": spec.platform.os,
        "created": spec.created,
        "config": spec.config,
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if spec.platform.variant:
        document["variant"] = spec.platform.variant
    if spec.author:
        document["author"] = spec.author
    return canonical_json(document)


def oci_manifest(config: Descriptor, layers: list[Descriptor]) -> bytes:
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_OCI_MANIFEST,
            "config": config.to_json(),
            "layers": [layer.to_json() for layer in layers],
        }
    )


def oci_index(manifest: Descriptor, refs: list[Reference]) -> bytes:
    """One index entry per tag, annotated as Docker 25's `docker save` does so tools find tags."""
    entries = []
    for ref in refs or [None]:
        annotations = {}
        if ref is not None:
            annotations = {
                "io.containerd.image.name": ref.full,
                "org.opencontainers.image.ref.name": ref.tag,
            }
        described = Descriptor(manifest.media_type, manifest.digest, manifest.size, annotations)
        entries.append(described.to_json())
    return canonical_json({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": entries})


def docker_manifest(config_path: str, layer_paths: list[str], refs: list[Reference]) -> bytes:
    """docker-archive's manifest.json, which `docker load` reads."""
    return canonical_json(
        [{"Config": config_path, "RepoTags": [ref.familiar for ref in refs], "Layers": layer_paths}]
    )
