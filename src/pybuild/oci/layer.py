"""Layers: what files a COPY/ADD adds, and the deterministic tar stream they become.

A layer is described by its entries (metadata plus where the bytes live); its tar is produced
only when a writer streams it, and its diff_id and size are computed while it streams, so every
source byte is read once and no file is held in memory.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .compression import Compression
from ..errors import ContextError, Location

BLOCK = 512
CHUNK = 1 << 20
SMALL = 64 << 10  # files up to this size go out in one write with their header
TAR_KINDS = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE}
# The ustar header as tarfile lays it out: name, mode, uid, gid, size, mtime, checksum, type,
# linkname, magic+version, uname, gname, devmajor, devminor, prefix, padding to 512 bytes.
USTAR = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s12x")
POSIX_MAGIC = b"ustar\x0000"


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
    data: bytes | None = None  # the bytes themselves, for small inline files (heredocs)

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

    def header(self, hard_link_to: str | None = None) -> bytes:
        """This entry's tar header (PAX format), or, with `hard_link_to`, the header that makes
        it a hard link to that earlier path. Most entries take the fast path; tests check that
        both give tarfile's bytes."""
        kind, size, link = TAR_KINDS[self.kind], self.size if self.kind == "file" else 0, self.linkname
        if hard_link_to is not None:
            kind, size, link = tarfile.LNKTYPE, 0, hard_link_to
        name = self.path + "/" if kind == tarfile.DIRTYPE and not self.path.endswith("/") else self.path
        fast = ustar_header(name, kind, self.mode, self.uid, self.gid, size, self.mtime, link)
        if fast is not None:
            return fast
        info = self.tarinfo()
        info.type, info.size, info.linkname = kind, size, link
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def ustar_header(name: str, kind: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
                 linkname: str) -> bytes | None:
    """The header tarfile writes in PAX format for an entry that needs no pax records (ASCII
    names of at most 100 characters, numbers that fit their octal fields), built in one
    struct.pack instead of tarfile's dozens of calls: a layer of many small files spent a third
    of its time in tarfile. None for any other entry."""
    if not (len(name) <= 100 and len(linkname) <= 100 and name.isascii() and linkname.isascii()
            and 0 <= uid < 8**7 and 0 <= gid < 8**7 and 0 <= size < 8**11 and 0 <= mtime < 8**11):
        return None
    header = USTAR.pack(name.encode("ascii"), b"%07o\0" % (mode & 0o7777), b"%07o\0" % uid,
                        b"%07o\0" % gid, b"%011o\0" % size, b"%011o\0" % mtime, b" " * 8, kind,
                        linkname.encode("ascii"), POSIX_MAGIC, b"", b"", b"", b"", b"")
    # The checksum is the sum of the header's bytes with its own field read as spaces.
    return header[:148] + b"%06o\0 " % sum(header) + header[156:]


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


def _copy_file(entry: LayerEntry, header: bytes, out) -> None:
    """The header, the file's bytes and the padding after them. A small file goes out in one
    write with its header; a larger one streams in chunks. Either way a file whose size is not
    what was planned is an error, never a silently different layer."""
    assert entry.source is not None
    pieces = [header]  # what is read but not yet written
    remaining = entry.size
    try:
        fd = os.open(entry.source, os.O_RDONLY)
        try:
            if entry.offset:
                os.lseek(fd, entry.offset, os.SEEK_SET)
            while remaining:
                chunk = os.read(fd, min(CHUNK, remaining))
                if not chunk:
                    break
                pieces.append(chunk)
                remaining -= len(chunk)
                if entry.size > SMALL:  # a large file streams; nothing of it is held
                    for piece in pieces:
                        out.write(piece)
                    pieces.clear()
            grew = entry.offset == 0 and not remaining and bool(os.read(fd, 1))
        finally:
            os.close(fd)
    except OSError as error:
        raise ContextError(f"cannot read {entry.origin or entry.source}: {error.strerror}") from None
    if remaining or grew:
        raise ContextError(f"{entry.origin or entry.source} changed while it was being read")
    pieces.append(b"\0" * (-entry.size % BLOCK))
    out.write(b"".join(pieces))


class _Coalesced:
    """Gathers small writes into writes of about CHUNK bytes: a layer of many small files
    otherwise pays for every header and file passing through the hashing and compressing
    writers one by one. Larger writes go straight on, uncopied."""

    def __init__(self, out):
        self.out = out
        self.pending = bytearray()

    def write(self, data) -> None:
        if len(data) > SMALL:
            self.flush()
            self.out.write(data)
            return
        self.pending += data
        if len(self.pending) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.out.write(bytes(self.pending))
            self.pending.clear()


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
    out = _Coalesced(out)
    for entry in layer.entries:
        if progress is not None and entry.kind != "dir":
            progress.advanced(1, entry.size)
        if entry.link_group and entry.link_group in first_of_group:
            out.write(entry.header(hard_link_to=first_of_group[entry.link_group]))
            continue
        if entry.link_group:
            first_of_group[entry.link_group] = entry.path
        header = entry.header()
        if entry.data is not None:
            out.write(header + entry.data + b"\0" * (-len(entry.data) % BLOCK))
        elif entry.kind == "file" and entry.size:
            try:
                _copy_file(entry, header, out)
            except ContextError as error:
                raise error.at(layer.location) if layer.location else error
        else:
            out.write(header)
    out.write(b"\0" * (2 * BLOCK))
    out.flush()


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
