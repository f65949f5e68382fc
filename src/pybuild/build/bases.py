"""Base images: FROM something other than scratch or a stage.

A base comes from a local archive or layout (`--build-context NAME=docker-archive:PATH`,
`oci-archive:PATH` or `oci-layout:DIR`) or from a registry (`FROM host[:port]/repo:tag` or
`@sha256:...`; the platform is chosen from an index). Every digest is verified. Its layers are
reused as they are; its files are known from the layers' tar headers, whiteouts applied, and are
read in place from the decompressed tars (in the build's scratch directory) when copied."""

from __future__ import annotations

import hashlib
import json
import posixpath
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .archives import uncompressed_tar
from ..errors import InstructionError, UsageError
from .filesystem import ImageFiles
from ..oci.model import HistoryEntry
from ..oci.layer import LayerEntry
from ..oci.platform import Platform

COMPRESSION_SUFFIX = {None: "", "gzip": "+gzip", "zstd": "+zstd", "bzip2": "", "xz": ""}
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_ACCEPT = ", ".join(INDEX_TYPES + ("application/vnd.oci.image.manifest.v1+json",
                                           "application/vnd.docker.distribution.manifest.v2+json"))


@dataclass(frozen=True)
class BaseLayer:
    """A layer of a base image, written to the output as it is (or recompressed)."""

    diff_id: str
    blob: Path  # the layer as stored (maybe compressed)
    digest: str
    size: int
    compression: str  # uncompressed, gzip or zstd: the stored blob's
    tar: Path  # the same layer as an uncompressed tar
    created_by: str = ""
    location: Any = None
    entries: tuple = ()  # none of its own: it is copied, not assembled


@dataclass
class BaseImage:
    name: str
    config: dict[str, Any]  # the whole config document
    layers: list[BaseLayer]
    files: ImageFiles
    history: list[HistoryEntry] = field(default_factory=list)

    @property
    def platform(self) -> Platform:
        return Platform(self.config.get("os", "linux"), self.config.get("architecture", "amd64"),
                        self.config.get("variant", ""))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _compression(path: Path) -> str | None:
    with open(path, "rb") as handle:
        head = handle.read(6)
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return None


def assemble(name: str, config: dict[str, Any], blobs: list[Path], scratch: Path) -> BaseImage:
    """A base image from its config and layer blobs (in order), verifying every diff_id."""
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(blobs):
        raise UsageError(f"base image {name}: {len(blobs)} layers but {len(diff_ids)} diff_ids")
    made_by = [item.get("created_by", "") for item in config.get("history") or []
               if not item.get("empty_layer")]
    files = ImageFiles(name)
    layers = []
    for number, (blob, diff_id) in enumerate(zip(blobs, diff_ids)):
        kind = _compression(blob)
        tar = uncompressed_tar(blob, kind, scratch) if kind else blob
        if _sha256_file(tar) != diff_id:
            raise UsageError(f"base image {name}: layer {number + 1} does not hash to its diff_id {diff_id}")
        stored = kind if kind in ("gzip", "zstd") else ("uncompressed" if kind is None else None)
        if stored is None:  # bzip2/xz layers are not OCI media types: store them uncompressed
            blob, stored = tar, "uncompressed"
        layers.append(BaseLayer(diff_id, blob, _sha256_file(blob), blob.stat().st_size, stored, tar,
                                made_by[number] if number < len(made_by) else ""))
        _apply(files, tar, name)
    history = [HistoryEntry(item.get("created_by", ""), bool(item.get("empty_layer")), item.get("created"))
               for item in config.get("history") or []]
    return BaseImage(name, config, layers, files, history)


def _apply(files: ImageFiles, tar_path: Path, name: str) -> None:
    """Add one layer's members to the file view: whiteouts delete, opaque markers hide what
    lower layers put in a directory."""
    lower = set(files.entries)
    with tarfile.open(tar_path, "r:") as tar:
        offsets: dict[str, int] = {}
        for member in tar:
            path = posixpath.normpath(member.name.lstrip("/")).lstrip("./") if member.name not in (".", "./") else ""
            if not path or path.startswith(".."):
                continue
            base = posixpath.basename(path)
            parent = posixpath.dirname(path)
            if base == ".wh..wh..opq":
                for known in [p for p in files.entries if p in lower and p.startswith(parent + "/")]:
                    del files.entries[known]
                continue
            if base.startswith(".wh."):
                gone = posixpath.join(parent, base[4:])
                for known in [p for p in files.entries if p == gone or p.startswith(gone + "/")]:
                    del files.entries[known]
                continue
            if member.islnk():
                target = posixpath.normpath(member.linkname.lstrip("/"))
                if target not in offsets:
                    continue
                entry = LayerEntry(path, "file", member.mode, member.uid, member.gid,
                                   files.entries[target].size, int(member.mtime), "", tar_path,
                                   offsets[target], f"{name}:{member.linkname}",
                                   link_group=f"tar:{tar_path}:{offsets[target]}")
            elif member.isreg() or member.isdir() or member.issym():
                kind = "file" if member.isreg() else "dir" if member.isdir() else "symlink"
                if kind == "file":
                    offsets[path] = member.offset_data
                entry = LayerEntry(path, kind, member.mode, member.uid, member.gid,
                                   member.size if kind == "file" else 0, int(member.mtime),
                                   member.linkname if kind == "symlink" else "",
                                   tar_path if kind == "file" else None,
                                   member.offset_data if kind == "file" else 0, f"{name}:{path}",
                                   link_group=f"tar:{tar_path}:{member.offset_data}" if kind == "file" else "")
            else:
                continue  # devices and FIFOs: not copied by COPY --from either
            files.entries[path] = entry


def load_local(name: str, spec: str, scratch: Path) -> BaseImage:
    """`docker-archive:PATH`, `oci-archive:PATH` or `oci-layout:DIR`."""
    from ..reports.inspect import _locate, _Source

    kind, _, location = spec.partition(":")
    if kind not in ("docker-archive", "oci-archive", "oci-layout") or not location:
        raise UsageError(f"--build-context {name}={spec}: expected docker-archive:PATH, "
                         "oci-archive:PATH or oci-layout:DIR")
    path = Path(location)
    if not path.exists():
        raise UsageError(f"--build-context {name}: {path} does not exist")
    source = _Source(path)
    try:
        config_path, layer_paths, _ = _locate(source)
        config_bytes = source.read(config_path)
        if config_bytes is None:
            raise UsageError(f"--build-context {name}: {path} lacks its config {config_path}")
        if config_path.startswith("blobs/") and "sha256:" + posixpath.basename(config_path) != \
                "sha256:" + hashlib.sha256(config_bytes).hexdigest():
            raise UsageError(f"--build-context {name}: the config does not hash to its name")
        blobs = []
        for number, layer_path in enumerate(layer_paths):
            target = scratch / f"{name}-layer-{number}"
            with source.open(layer_path) as handle, open(target, "wb") as out:
                if handle is None:
                    raise UsageError(f"--build-context {name}: {path} lacks {layer_path}")
                shutil.copyfileobj(handle, out, 1 << 20)
            if layer_path.startswith("blobs/sha256/") and _sha256_file(target) != "sha256:" + posixpath.basename(layer_path):
                raise UsageError(f"--build-context {name}: {layer_path} does not hash to its name")
            blobs.append(target)
    finally:
        source.close()
    return assemble(name, json.loads(config_bytes), blobs, scratch)


def choose_platform(index: dict[str, Any], platform: Platform, name: str) -> str:
    """The digest of the index entry for `platform`."""
    offered = []
    for entry in index.get("manifests") or []:
        wanted = entry.get("platform") or {}
        offered.append("/".join(filter(None, (wanted.get("os"), wanted.get("architecture"), wanted.get("variant")))))
        if (wanted.get("os") == platform.os and wanted.get("architecture") == platform.architecture
                and (not platform.variant or wanted.get("variant", "") in ("", platform.variant))):
            return entry["digest"]
    raise InstructionError(f"{name} has no image for {platform} (it offers {', '.join(offered) or 'none'})")


def pull(reference_text: str, platform: Platform, scratch: Path, client_for) -> BaseImage:
    """Pull `host/repo:tag` or `host/repo@sha256:...` from its registry, verifying digests."""
    from ..oci.reference import parse_reference

    text, _, pinned = reference_text.partition("@")
    ref = parse_reference(text)
    client = client_for(ref.domain)
    scope = f"repository:{ref.path}:pull"
    wanted = pinned or ref.tag

    def fetch(path: str, accept: str | None = None, digest: str | None = None) -> bytes:
        answer = client.request("GET", path, scope, {"Accept": accept} if accept else None)
        data = answer.read()
        if digest and "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise InstructionError(f"{reference_text}: {path} does not hash to {digest}")
        return data

    manifest_bytes = fetch(f"/v2/{ref.path}/manifests/{wanted}", MANIFEST_ACCEPT, pinned or None)
    manifest = json.loads(manifest_bytes)
    if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
        digest = choose_platform(manifest, platform, reference_text)
        manifest = json.loads(fetch(f"/v2/{ref.path}/manifests/{digest}", MANIFEST_ACCEPT, digest))
    config = json.loads(fetch(f"/v2/{ref.path}/blobs/{manifest['config']['digest']}",
                              digest=manifest["config"]["digest"]))
    blobs = []
    for number, layer in enumerate(manifest["layers"]):
        target = scratch / f"pull-{hashlib.sha256(reference_text.encode()).hexdigest()[:12]}-{number}"
        answer = client.request("GET", f"/v2/{ref.path}/blobs/{layer['digest']}", scope)
        with open(target, "wb") as out:
            shutil.copyfileobj(answer, out, 1 << 20)
        if _sha256_file(target) != layer["digest"]:
            raise InstructionError(f"{reference_text}: layer {layer['digest']} arrived with other bytes")
        blobs.append(target)
    return assemble(reference_text, config, blobs, scratch)
