"""Layers. One protocol, two kinds:

- `BuiltLayer`: what a COPY/ADD/WORKDIR adds, described by its entries (metadata plus where the
  bytes live). Its tar is produced only when it is written, and its diff_id and digest are
  computed while it streams, so every source byte is read once and no file is held in memory.
- `StoredLayer`: a layer that exists as a blob already (a base image's), written as it is, or
  recompressed when the output asks for another compression.

Both describe their files as `LayerEntry`s; `tar_entries` is the one reader that turns a layer
tar's members into entries (whiteouts and opaque markers included), and `rootfs.RootFS` the one
place that stacks them.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import struct
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, Protocol
from zlib import adler32

from ..errors import ContextError, Location, PybuildError, first_line, located
from ..events import QUIET, Reporter
from .blobstore import BlobStore
from .compression import Compression
from .model import LayerBlob
from .sinks import BLOCK, CHUNK, SMALL, Coalesced, DiscardSink, HashingWriter, Sink

TAR_KINDS = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE}
# The ustar header as tarfile lays it out: name, mode, uid, gid, size, mtime, checksum, type,
# linkname, magic+version, uname, gname, devmajor, devminor, prefix, padding to 512 bytes.
USTAR = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s12x")
POSIX_MAGIC = b"ustar\x0000"
ZEROS = bytes(BLOCK)  # padding after a member's bytes is a slice of this
WHITEOUT = ".wh."  # `.wh.NAME` deletes NAME of lower layers
OPAQUE = ".wh..wh..opq"  # hides what lower layers put in its directory
AUFS_META = ".wh..wh."  # AUFS's own bookkeeping entries, such as .wh..wh.plnk


class InvalidLayer(PybuildError):
    """A layer that no runtime could apply: not a tar, or entries that cannot stack."""


@dataclass(frozen=True)
class LayerEntry:
    """One file, directory or symlink of a layer; `path` is relative to / (no leading slash).
    Entries read from a stored layer's tar may also be a `hardlink` (to `linkname`), a
    `whiteout` (deleting `path`) or `opaque` (hiding lower contents of directory `path`)."""

    path: str
    kind: str
    mode: int
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    source: str | Path | None = None
    offset: int = 0  # where the bytes start in `source` (a member of an uncompressed tar)
    origin: str = ""
    # Files with the same non-empty link_group are hard links of one another: within a layer,
    # the first in order is written as the file and the others as links to it.
    link_group: str = ""
    data: bytes | None = None  # the bytes themselves, for small inline files (heredocs)
    # A build-context file: opened component by component beneath this root without following
    # links, and checked to be the (device, inode) that was walked; a file or directory swapped
    # for a symlink during the build is an error, never a read outside the context.
    beneath: Path | None = None
    identity: tuple[int, int] | None = None

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
        kind, size, link = (
            TAR_KINDS[self.kind],
            self.size if self.kind == "file" else 0,
            self.linkname,
        )
        if hard_link_to is not None:
            kind, size, link = tarfile.LNKTYPE, 0, hard_link_to
        name = (
            self.path + "/"
            if kind == tarfile.DIRTYPE and not self.path.endswith("/")
            else self.path
        )
        fast = ustar_header(
            name,
            kind,
            self.mode,
            uid=self.uid,
            gid=self.gid,
            size=size,
            mtime=self.mtime,
            linkname=link,
        )
        if fast is not None:
            return fast
        info = self.tarinfo()
        info.type, info.size, info.linkname = kind, size, link
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    def read(self) -> bytes:
        """A (small) file's bytes: an inline file's, or read from its source at its offset."""
        if self.data is not None:
            return self.data
        if self.source is None or self.kind != "file":
            return b""
        return b"".join(self.chunks())

    def copy_to(self, out: Sink) -> None:
        """Stream a file's bytes into `out`, a chunk at a time."""
        for chunk in self.chunks():
            out.write(chunk)

    def chunks(self) -> Iterator[bytes]:
        """A file's bytes, a chunk at a time (a context file opened as the layer opens it:
        beneath the context, never through a link)."""
        if self.data is not None or self.source is None:
            yield self.read()
            return
        fd = _open_source(self)
        try:
            os.lseek(fd, self.offset, os.SEEK_SET)
            remaining = self.size
            while remaining and (chunk := os.read(fd, min(CHUNK, remaining))):
                yield chunk
                remaining -= len(chunk)
        finally:
            os.close(fd)

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to `length` of a file's bytes from `offset` (fewer at its end)."""
        length = max(0, min(length, self.size - offset))
        if self.data is not None or self.source is None:
            return self.read()[offset : offset + length]
        fd = _open_source(self)
        try:
            return os.pread(fd, length, self.offset + offset)
        finally:
            os.close(fd)


def ustar_header(
    name: str, kind: bytes, mode: int, *, uid: int, gid: int, size: int, mtime: int, linkname: str
) -> bytes | None:
    """The header tarfile writes in PAX format for an entry that needs no pax records (ASCII
    names of at most 100 characters, numbers that fit their octal fields), built in one
    struct.pack instead of tarfile's dozens of calls: a layer of many small files spent a third
    of its time in tarfile. None for any other entry."""
    if not (
        len(name) <= 100
        and len(linkname) <= 100
        and name.isascii()
        and linkname.isascii()
        and 0 <= uid < 8**7
        and 0 <= gid < 8**7
        and 0 <= size < 8**11
        and 0 <= mtime < 8**11
    ):
        return None
    header = USTAR.pack(
        name.encode("ascii"),
        b"%07o\0" % (mode & 0o7777),
        b"%07o\0" % uid,
        b"%07o\0" % gid,
        b"%011o\0" % size,
        b"%011o\0" % mtime,
        b" " * 8,
        kind,
        linkname.encode("ascii"),
        POSIX_MAGIC,
        b"",
        b"",
        b"",
        b"",
        b"",
    )
    # The checksum is the sum of the header's bytes with its own field read as spaces. Each
    # half sums to at most 256 * 255, below Adler-32's modulus, so the low 16 bits of the
    # half's Adler-32 are 1 + its exact sum: two C calls instead of 512 Python additions.
    checksum = (adler32(header[:256]) & 0xFFFF) + (adler32(header[256:]) & 0xFFFF) - 2
    return header[:148] + b"%06o\0 " % checksum + header[156:]


def path_key(path: str) -> tuple[str, ...]:
    """Sort key that puts a directory right before what it contains."""
    return tuple(path.split("/"))


def member_path(name: str) -> str | None:
    """A tar member's name as a clean path relative to / ('' for the root itself), or None for
    a name that climbs above the root. Only `/` and `./` prefixes go: `.hidden` and a root-level
    whiteout `.wh.NAME` keep their dots."""
    if posixpath.normpath(name).startswith("../") or posixpath.normpath(name) == "..":
        return None
    return posixpath.normpath("/" + name).lstrip("/")


def tar_entries(tar: tarfile.TarFile, source: Path | None, origin: str) -> Iterator[LayerEntry]:
    """A layer tar's members as entries, in tar order. With `source` (the uncompressed tar on
    disk) files point at their bytes in it; `origin` names the image for messages. Devices and
    FIFOs are left out: COPY --from does not copy them, and runtimes make /dev themselves."""
    for member in tar:
        path = member_path(member.name)
        mode = member.mode & 0o7777  # Docker's own layers carry the file-type bits here too
        if path is None:  # Docker's applier refuses such a layer too ("breakout")
            raise InvalidLayer(f"{origin}: layer member {member.name!r} climbs out of the root")
        if not path:
            continue
        base, parent = posixpath.basename(path), posixpath.dirname(path)
        where = f"{origin}:/{path}"
        if (base.startswith(AUFS_META) and base != OPAQUE) or parent.startswith(AUFS_META):
            continue  # AUFS bookkeeping (.wh..wh.plnk/...), not part of the file system
        if base == OPAQUE:
            yield LayerEntry(parent, "opaque", 0, origin=where)
        elif base.startswith(WHITEOUT):
            yield LayerEntry(
                posixpath.join(parent, base[len(WHITEOUT) :]), "whiteout", 0, origin=where
            )
        elif member.islnk():
            target = member_path(member.linkname)
            if target is None:
                raise InvalidLayer(f"{origin}: hard link {member.name!r} points out of the root")
            if target:
                yield LayerEntry(
                    path,
                    "hardlink",
                    mode,
                    member.uid,
                    member.gid,
                    mtime=int(member.mtime),
                    linkname=target,
                    origin=where,
                )
        elif member.isreg() and member.issparse():  # stored bytes are a map of holes
            raise InvalidLayer(
                f"{origin}: {member.name!r} is stored sparse (tar --sparse), which pybuild "
                "cannot expand yet"
            )
        elif member.isreg():
            yield LayerEntry(
                path,
                "file",
                mode,
                member.uid,
                member.gid,
                member.size,
                int(member.mtime),
                source=source,
                offset=member.offset_data,
                origin=where,
                link_group=f"tar:{source}:{member.offset_data}" if source else "",
            )
        elif member.isdir() or member.issym():
            yield LayerEntry(
                path,
                "dir" if member.isdir() else "symlink",
                mode,
                member.uid,
                member.gid,
                mtime=int(member.mtime),
                linkname=member.linkname,
                origin=where,
            )


class Layer(Protocol):
    """What an image needs of a layer, whether built here or stored already."""

    @property
    def created_by(self) -> str: ...

    @property
    def entries(self) -> Iterable[LayerEntry]: ...

    def totals(self) -> tuple[int, int]:
        """Files (not directories) and their bytes, for progress."""

    def known_blob(self, compression: Compression, cache: BlobStore) -> LayerBlob | None:
        """The blob's digests when they are known without writing it (cached, or stored)."""

    def write_blob(
        self,
        sink: BinaryIO,
        compression: Compression,
        cache: BlobStore,
        *,
        reporter: Reporter = QUIET,
    ) -> LayerBlob:
        """Write the blob, compressed as asked, into `sink` (a seekable file)."""

    def write_tar(self, out: Sink, reporter: Reporter = QUIET) -> None:
        """Write the layer as an uncompressed tar."""


def file_totals(entries: Iterable[LayerEntry]) -> tuple[int, int]:
    """How many files (not directories or markers) `entries` hold, and their bytes."""
    files = [entry for entry in entries if entry.kind not in ("dir", "whiteout", "opaque")]
    return len(files), sum(entry.size for entry in files)


class EntryStream(Protocol):
    """Entries made each time they are asked for, in layer order: a directory of 200,000
    context files is walked again when its layer is written rather than held as 200,000
    objects, so memory does not grow with the file count."""

    def stream(self, *, read_up_to: int = 0) -> Iterator[LayerEntry]:
        """The entries; files of at most `read_up_to` bytes with their bytes (`data`)."""

    @property
    def totals(self) -> tuple[int, int]:
        """How many files (not directories) it holds, and their bytes, as planned."""


class Entries:
    """A layer's entries: those listed, then those of its streams (which all lie below the
    last listed directory, so the whole is in layer order). Iterable any number of times."""

    def __init__(
        self,
        listed: tuple[LayerEntry, ...],
        streams: tuple[EntryStream, ...],
        location: Location | None = None,
    ):
        self.listed = listed
        self.streams = streams
        self.location = location  # of the instruction: a stream's errors are its errors

    def __iter__(self) -> Iterator[LayerEntry]:
        return self.read(0)

    def __eq__(self, other: object) -> bool:
        """Equal when they give the same entries (a tuple of them, or other Entries)."""
        if not isinstance(other, (Entries, tuple)):
            return NotImplemented
        return tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def read(self, read_up_to: int) -> Iterator[LayerEntry]:
        yield from self.listed
        with located(self.location):  # walked later, wherever: the COPY's line is named
            for stream in self.streams:
                yield from stream.stream(read_up_to=read_up_to)


@dataclass(frozen=True)
class BuiltLayer:
    """The entries of one layer, sorted, and the instruction text that made it: `listed`
    ones, then those of `streams` (a copied context directory, walked when needed)."""

    listed: tuple[LayerEntry, ...]
    created_by: str
    location: Location | None = None
    streams: tuple[EntryStream, ...] = ()
    # Cache keys already computed in this build, by compression and cache directory: each
    # costs a stat of every source file, and a build asks for them more than once.
    keys: dict[tuple[Compression, Path | None], str | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    # Per entry, a checksum of what its key took (BlobStore.layer_key): what explain --why
    # compares with the last build's to name the files that changed.
    stamps: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def of(
        entries: dict[str, LayerEntry],
        created_by: str,
        location: Location | None = None,
        *,
        streams: tuple[EntryStream, ...] = (),
    ) -> BuiltLayer:
        ordered = tuple(entries[key] for key in sorted(entries, key=path_key))
        return BuiltLayer(ordered, created_by, location, streams)

    @property
    def entries(self) -> Entries:
        return Entries(self.listed, self.streams, self.location)

    def totals(self) -> tuple[int, int]:
        """Files (not directories) and their bytes, without walking any stream."""
        with located(self.location):
            counted = [file_totals(self.listed)] + [stream.totals for stream in self.streams]
        return sum(count for count, _ in counted), sum(size for _, size in counted)

    def key(self, compression: Compression, cache: BlobStore) -> str | None:
        """This layer's key in `cache` (computed once per build)."""
        where = (compression, cache.root)
        if where not in self.keys:
            self.stamps.clear()
            self.keys[where] = cache.layer_key(self.entries, compression, stamps=self.stamps)
        return self.keys[where]

    def known_blob(self, compression: Compression, cache: BlobStore) -> LayerBlob | None:
        return cache.lookup(self.key(compression, cache))

    def write_blob(
        self,
        sink: BinaryIO,
        compression: Compression,
        cache: BlobStore,
        *,
        reporter: Reporter = QUIET,
    ) -> LayerBlob:
        """Copied from the cache when it holds the blob intact, else built from the sources
        (and, when compressed, kept in the cache on the way)."""
        key = self.key(compression, cache)
        hit = cache.copy_cached(key, compression, sink)
        if hit is not None:
            reporter.layer_finished(hit.diff_id, hit.digest, hit.size, cached=True)
            return hit
        blob = cache.write_through(
            key, compression, sink, make=lambda out: self._write(out, compression, reporter)
        )
        reporter.layer_finished(blob.diff_id, blob.digest, blob.size, cached=False)
        return blob

    def _write(self, sink: Sink, compression: Compression, reporter: Reporter) -> LayerBlob:
        if compression.name == "uncompressed":  # the blob is the tar: one hash gives both
            tar = HashingWriter(sink)
            self.write_tar(tar, reporter)
            return LayerBlob(tar.digest, tar.digest, tar.size)
        stored = HashingWriter(sink)
        compressor = compression.writer(stored)
        tar = HashingWriter(compressor)
        self.write_tar(tar, reporter)
        compressor.close()
        return LayerBlob(tar.digest, stored.digest, stored.size)

    def write_tar(self, out: Sink, reporter: Reporter = QUIET) -> None:
        """Stream the layer as an uncompressed PAX tar into `out`, telling `reporter` about each
        file done."""
        first_of_group: dict[str, str] = {}
        gathered = Coalesced(out)
        with located(self.location):  # a file unreadable now is this instruction's error
            for entry in self.entries.read(SMALL):  # small files come with their bytes
                if entry.kind != "dir":
                    reporter.advanced(1, entry.size)
                if entry.link_group and entry.link_group in first_of_group:
                    gathered.write(entry.header(hard_link_to=first_of_group[entry.link_group]))
                    continue
                if entry.link_group:
                    first_of_group[entry.link_group] = entry.path
                header = entry.header()
                if entry.data is not None:
                    gathered.write(header + entry.data + ZEROS[: -len(entry.data) % BLOCK])
                elif entry.kind == "file" and entry.size:
                    _copy_file(entry, header, gathered)
                else:
                    gathered.write(header)
        gathered.write(b"\0" * (2 * BLOCK))
        gathered.flush()


def _open_source(entry: LayerEntry) -> int:
    """A descriptor for the entry's bytes; for a context file, the very file that was walked."""
    assert entry.source is not None
    if entry.beneath is None:
        return os.open(entry.source, os.O_RDONLY)
    shown = entry.origin or str(entry.source)
    parts = Path(entry.source).relative_to(entry.beneath).parts
    directory = os.open(entry.beneath, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory)
            os.close(directory)
            directory = inner
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ContextError(
                f"{shown} was replaced by a symlink during the build; not read"
            ) from None
        raise
    finally:
        os.close(directory)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != entry.identity:
        os.close(fd)
        raise ContextError(f"{shown} was replaced during the build; not read")
    return fd


def _copy_file(entry: LayerEntry, header: bytes, out: Sink) -> None:
    """The header, the file's bytes and the padding after them. A small file goes out in one
    write with its header; a larger one streams in chunks. Either way a file whose size is not
    what was planned is an error, never a silently different layer."""
    assert entry.source is not None
    pieces = [header]  # what is read but not yet written
    remaining = entry.size
    try:
        fd = _open_source(entry)
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
        raise ContextError(
            f"cannot read {entry.origin or entry.source}: {error.strerror}"
        ) from None
    if remaining or grew:
        raise ContextError(f"{entry.origin or entry.source} changed while it was being read")
    pieces.append(b"\0" * (-entry.size % BLOCK))
    out.write(b"".join(pieces))


@dataclass(frozen=True)
class StoredLayer:
    """A layer that is a blob already (a base image's): `blob` as stored, `tar` the same layer
    uncompressed (the blob itself when it is not compressed), both verified when read."""

    diff_id: str
    blob: Path
    digest: str
    size: int
    compression: str  # the stored blob's: uncompressed, gzip or zstd
    tar: Path
    entries: tuple[LayerEntry, ...]
    created_by: str = ""

    def totals(self) -> tuple[int, int]:
        return file_totals(self.entries)

    def known_blob(self, compression: Compression, cache: BlobStore) -> LayerBlob | None:
        if compression.name == self.compression:
            return LayerBlob(self.diff_id, self.digest, self.size)
        return None

    def write_blob(
        self,
        sink: BinaryIO,
        compression: Compression,
        cache: BlobStore,
        *,
        reporter: Reporter = QUIET,
    ) -> LayerBlob:
        """The blob as it is when it is stored as asked, else its tar compressed so."""
        if compression.name == self.compression:
            blob = LayerBlob(self.diff_id, self.digest, self.size)
            if not cache.copy_verified(self.blob, sink, blob):
                raise ContextError(f"base layer {self.digest} changed on disk during the build")
        else:
            stored = HashingWriter(sink)
            writer = compression.writer(stored)
            self.write_tar(writer, reporter)
            writer.close()
            blob = LayerBlob(self.diff_id, stored.digest, stored.size)
        reporter.layer_finished(blob.diff_id, blob.digest, blob.size, cached=False)
        return blob

    def write_tar(self, out: Sink, reporter: Reporter = QUIET) -> None:
        with open(self.tar, "rb") as tar:
            while chunk := tar.read(CHUNK):
                out.write(chunk)


def tar_digests(layer: Layer, cache: BlobStore) -> LayerBlob:
    """A layer's uncompressed digests (diff_id, size), known or hashed while its tar goes by,
    for images that are not stored as blobs (a bundle, a layer of another stage)."""
    known = layer.known_blob(Compression(), cache)
    if known is not None:
        return known
    hashed = HashingWriter(DiscardSink())
    layer.write_tar(hashed)
    return LayerBlob(hashed.digest, hashed.digest, hashed.size)


def read_entries(tar_path: Path, origin: str) -> tuple[LayerEntry, ...]:
    """The entries of an uncompressed layer tar on disk, pointing at their bytes in it."""
    try:
        with tarfile.open(tar_path, "r:") as tar:
            return tuple(tar_entries(tar, tar_path, origin))
    except tarfile.TarError as error:
        raise InvalidLayer(
            f"{origin}: a layer is not a readable tar ({first_line(error)})"
        ) from None


def stream_entries(stream: IO[bytes], origin: str) -> Iterator[LayerEntry]:
    """The entries of a layer read as a stream (uncompressed); their bytes are not kept."""
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            yield from tar_entries(tar, None, origin)
    except tarfile.TarError as error:
        raise InvalidLayer(
            f"{origin}: a layer is not a readable tar ({first_line(error)})"
        ) from None
