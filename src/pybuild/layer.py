"""Layers: what files a COPY/ADD adds, and the deterministic tar stream they become.

A layer is described by its entries (metadata plus where the bytes live); its tar is produced
only when a writer streams it, and its diff_id and size are computed while it streams, so every
source byte is read once and no file is held in memory.
"""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .compression import Compression
from .errors import ContextError, Location

BLOCK = 512
CHUNK = 1 << 20
TAR_KINDS = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE}


@dataclass(frozen=True)
class LayerEntry:
    """One file, directory or symlink of a layer. `path` is relative to / (no leading slash)."""

    path: str
    kind: str
    mode: int
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    source: Path | None = None
    offset: int = 0  # where the bytes start in `source` (a member of an uncompressed tar)
    origin: str = ""
    # Files with the same non-empty link_group are hard links of one another: within a layer,
    # the first in order is written as the file and the others as links to it.
    link_group: str = ""
    data: bytes | None = None  # the bytes themselves, for small inline files (heredocs)  # the context path it came from, for people reading what a layer holds

    def tarinfo(self) -> tarfile.TarInfo:
        info = tarfile.TarInfo(self.path)
        info.type = TAR_KINDS[self.kind]
        info.mode = self.mode
        info.uid, info.gid = self.uid, self.gid
        info.uname = info.gname = ""
        info.size = self.size if self.kind == "file" else 0
        info.mtime = self.mtime
        info.linkname = self.linkname
        return info


def path_key(path: str) -> tuple[str, ...]:
    """Sort key that puts a directory right before what it contains."""
    return tuple(path.split("/"))


@dataclass(frozen=True)
class Layer:
    """The entries of one layer, sorted, and the instruction text that made it."""

    entries: tuple[LayerEntry, ...]
    created_by: str
    location: Location | None = None

    @staticmethod
    def of(entries: dict[str, LayerEntry], created_by: str, location: Location | None = None) -> "Layer":
        ordered = tuple(entries[key] for key in sorted(entries, key=path_key))
        return Layer(ordered, created_by, location)


class HashingWriter:
    """Passes bytes to `sink` while counting them and computing their sha256."""

    def __init__(self, sink: BinaryIO):
        self.sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sink.write(data)
        self.sha256.update(data)
        self.size += len(data)

    def flush(self) -> None:
        flush = getattr(self.sink, "flush", None)
        if flush is not None:
            flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()


class DiscardSink:
    """A sink that keeps nothing: for digests of bytes nobody needs to store."""

    def write(self, data) -> int:
        return len(data)

    def flush(self) -> None:
        pass


def _copy_file(entry: LayerEntry, out) -> None:
    remaining = entry.size
    assert entry.source is not None
    try:
        with open(entry.source, "rb") as handle:
            handle.seek(entry.offset)
            while remaining:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                out.write(chunk)
                remaining -= len(chunk)
            grew = entry.offset == 0 and bool(handle.read(1))
    except OSError as error:
        raise ContextError(f"cannot read {entry.origin or entry.source}: {error.strerror}") from None
    if remaining or grew:
        raise ContextError(f"{entry.origin or entry.source} changed while it was being read")
    padding = -entry.size % BLOCK
    if padding:
        out.write(b"\0" * padding)


@dataclass(frozen=True)
class LayerBlob:
    """A written layer: diff_id (sha256 of the tar) and digest and size of the stored blob."""

    diff_id: str
    digest: str
    size: int


def write_layer_tar(layer: Layer, out, progress=None) -> None:
    """Stream `layer` as an uncompressed PAX tar into `out` (anything with write()); tell
    `progress` (progress.Progress) about each file done."""
    first_of_group: dict[str, str] = {}
    for entry in layer.entries:
        if progress is not None and entry.kind != "dir":
            progress.advanced(1, entry.size)
        info = entry.tarinfo()
        if entry.link_group and entry.link_group in first_of_group:
            info.type, info.size = tarfile.LNKTYPE, 0
            info.linkname = first_of_group[entry.link_group]
            out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
            continue
        if entry.link_group:
            first_of_group[entry.link_group] = entry.path
        out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if entry.data is not None:
            out.write(entry.data + b"\0" * (-len(entry.data) % BLOCK))
        elif entry.kind == "file" and entry.size:
            try:
                _copy_file(entry, out)
            except ContextError as error:
                raise error.at(layer.location) if layer.location else error
    out.write(b"\0" * (2 * BLOCK))


def write_layer(layer: Layer, sink: BinaryIO, compression: Compression = Compression(),
                progress=None) -> LayerBlob:
    """Stream `layer` into `sink`, compressed as asked, computing the diff_id (of the tar) and
    the digest (of the blob) on the way: every source byte is read once."""
    stored = HashingWriter(sink)
    compressor = compression.writer(stored)
    tar = HashingWriter(compressor)
    write_layer_tar(layer, tar, progress)
    compressor.close()
    return LayerBlob(tar.digest, stored.digest, stored.size)
