"""The layer cache (`--cache-dir`, default ~/.cache/pybuild; `--no-cache` to skip).

A layer's key is the sha256 of everything that decides its bytes: each entry's path, type,
mode, owner, size, time and link, where its bytes come from with a cheap stat of that file
(size, mtime, inode, ctime), and the compression. An unchanged key means an unchanged layer,
so its diff_id, digest and size are known without reading a source. Compressed blobs are kept
too, so a rebuild copies them (verifying their digest) instead of compressing again; a blob
that no longer hashes to its name is deleted and the layer rebuilt. Uncompressed blobs are not
kept: writing them again costs what copying them would.

The cache also remembers which image each output file holds (by inode, size and mtime), so an
unchanged rebuild whose destination still holds exactly that image writes nothing.
Every cache file is written to a temporary name and renamed, so readers never see half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..filestat import default_cache_dir as default_cache_path, file_stat
from .compression import Compression
from .layer import Layer, LayerBlob

# Bump when what a key covers, or the bytes a key stands for, change. 2: compressors are handed
# even writes (compression.py), so gzip blobs cached by version 1 hold other bytes.
FORMAT = 2


def default_cache_dir() -> Path:
    return Path(default_cache_path())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".partial-", delete=False) as out:
        out.write(data)
    os.replace(out.name, path)


class LayerCache:
    """A cache directory; `LayerCache(None)` is a cache that never hits and never stores."""

    def __init__(self, root: Path | None):
        self.root = root

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def key(self, layer: Layer, compression: Compression) -> str | None:
        """The layer's cache key, or None when it cannot be cached (a source vanished)."""
        if self.root is None or not isinstance(layer, Layer):
            return None  # a base image's layer is copied as it is, not cached
        digest = hashlib.sha256(f"pybuild-layer-v{FORMAT}|{compression.name}|{compression.level}".encode())
        for entry in layer.entries:
            source: object = None
            if entry.data is not None:
                source = hashlib.sha256(entry.data).hexdigest()
            elif entry.source is not None:
                identity = file_stat(entry.source)
                if identity is None:
                    return None
                source = [str(entry.source), entry.offset, identity]
            record = [entry.path, entry.kind, entry.mode, entry.uid, entry.gid, entry.size,
                      entry.mtime, entry.linkname, entry.link_group != "", source]
            digest.update(json.dumps(record).encode() + b"\n")
        groups = [entry.link_group for entry in layer.entries if entry.link_group]
        digest.update(json.dumps([groups.index(g) for g in groups]).encode())  # link structure
        return digest.hexdigest()

    def lookup(self, key: str | None) -> LayerBlob | None:
        if self.root is None or key is None:
            return None
        try:
            record = json.loads((self.root / "layers" / f"{key}.json").read_text())
            return LayerBlob(record["diff_id"], record["digest"], record["size"])
        except (OSError, ValueError, KeyError):
            return None

    def remember(self, key: str | None, blob: LayerBlob) -> None:
        if self.root is None or key is None:
            return
        record = {"diff_id": blob.diff_id, "digest": blob.digest, "size": blob.size}
        _atomic_write(self.root / "layers" / f"{key}.json", json.dumps(record).encode())

    def blob_file(self, digest: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / "blobs" / digest.replace(":", "/")

    def blob_sink(self):
        """A temporary file in the cache for a blob being written, or None when disabled."""
        if self.root is None:
            return None
        directory = self.root / "blobs" / "sha256"
        directory.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=directory, prefix=".partial-", delete=False)

    def output_holds(self, dest: Path, manifest_digest: str) -> bool:
        """Whether `dest` is still the file a build wrote with this manifest."""
        if self.root is None:
            return False
        record_path = self.root / "outputs" / hashlib.sha256(str(dest.resolve()).encode()).hexdigest()
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            return False
        return record.get("manifest") == manifest_digest and record.get("stat") == file_stat(dest)

    def remember_output(self, dest: Path, manifest_digest: str) -> None:
        if self.root is None:
            return
        record_path = self.root / "outputs" / hashlib.sha256(str(dest.resolve()).encode()).hexdigest()
        record = {"manifest": manifest_digest, "stat": file_stat(dest), "path": str(dest.resolve())}
        _atomic_write(record_path, json.dumps(record).encode())
