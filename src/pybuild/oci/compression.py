"""Layer compression: uncompressed, gzip or zstd, deterministic and fast.

gzip uses ISA-L (the `isal` package) in its threaded mode when it is installed: several times
faster than zlib, and its output does not depend on the thread count. Without it, the standard
library's zlib is the fallback; both write no name and mtime 0, but their bytes differ, so a
gzip digest is reproducible for a given compressor. zstd uses `zstandard` in multi-threaded mode,
whose output is the same for any number of threads. Uncompressed layers (the default for
docker-archive output) are byte-identical everywhere.

Reading is the other half: `sniff` is the one place that tells a compression from a stream's
first bytes (gzip, zstd, and for ADD's archives bzip2 and xz), and `decompressed` the one
reader that undoes it.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol

from ..errors import UsageError
from .sinks import Sink

ISAL_MAX_LEVEL = 3
DEFAULT_LEVELS = {"gzip": 2, "zstd": 3}
WRITE_SIZE = 1 << 20  # what a compressor is handed at a time (_EvenWrites)
MEDIA_SUFFIX = {"uncompressed": "", "gzip": "+gzip", "zstd": "+zstd"}


class Writer(Protocol):
    """What `Compression.writer` returns: write, then close to flush (the sink stays open)."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Compression:
    name: str = "uncompressed"  # uncompressed, gzip or zstd
    level: int | None = None

    def __post_init__(self) -> None:
        if self.name not in MEDIA_SUFFIX:
            raise UsageError(f"compression={self.name}: expected uncompressed, gzip or zstd")
        limits = {"gzip": 9, "zstd": 22}
        if (
            self.level is not None
            and self.name in limits
            and not 0 <= self.level <= limits[self.name]
        ):
            raise UsageError(
                f"compression-level={self.level}: {self.name} takes 0 to {limits[self.name]}"
            )

    @property
    def media_suffix(self) -> str:
        return MEDIA_SUFFIX[self.name]

    def writer(self, sink: Sink) -> Writer:
        """A file-like object that compresses into `sink`; close it to flush (not `sink`)."""
        level = self.level if self.level is not None else DEFAULT_LEVELS.get(self.name, 0)
        # Imported here: a build that writes uncompressed layers should not pay for them.
        if self.name == "gzip":
            isal_gzip: Any
            try:
                import isal.igzip_threaded as isal_gzip
            except ImportError:  # no isal wheel for this platform: zlib it is
                isal_gzip = None
            if isal_gzip is not None and level <= ISAL_MAX_LEVEL:
                return _EvenWrites(
                    isal_gzip.open(
                        _Unclosable(sink),
                        "wb",
                        compresslevel=level,
                        threads=max(os.cpu_count() or 1, 1),
                    )
                )
            return _EvenWrites(
                gzip.GzipFile(
                    filename="", mode="wb", compresslevel=level, fileobj=_Unclosable(sink), mtime=0
                )
            )
        if self.name == "zstd":
            import zstandard

            compressor = zstandard.ZstdCompressor(level=level, threads=-1)
            target: Any = sink  # zstandard needs only write() of it; its stub asks for IO[bytes]
            return _EvenWrites(compressor.stream_writer(target, closefd=False))
        return _Unclosable(sink)


class _EvenWrites:
    """Hands a compressor the stream in writes of exactly WRITE_SIZE bytes (the last may be
    shorter). ISA-L's threaded gzip cuts its blocks where the writes fall (1000-byte writes give
    other bytes than 4096-byte ones), so without this a gzip digest would depend on how the tar
    happened to be written (or a read that came back short), not only on its bytes. zstd does
    not show this here; it goes through the same door so that no library can."""

    def __init__(self, compressor: Any):
        self.compressor = compressor
        self.pending = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        while len(view):
            if not self.pending and len(view) >= WRITE_SIZE:  # aligned: no copy
                self.compressor.write(view[:WRITE_SIZE])
                view = view[WRITE_SIZE:]
                continue
            room = WRITE_SIZE - len(self.pending)
            self.pending += view[:room]
            view = view[room:]
            if len(self.pending) == WRITE_SIZE:
                full, self.pending = self.pending, bytearray()  # handed over, never changed again
                self.compressor.write(full)
        return len(data)

    def flush(self) -> None:
        pass  # a flush would cut a block early, which is just what this class prevents

    def close(self) -> None:
        if self.pending:
            self.compressor.write(self.pending)
            self.pending = bytearray()
        self.compressor.close()


class _Unclosable:
    """Passes writes through; closing it leaves the sink open for the next blob."""

    def __init__(self, sink: Sink):
        self.sink = sink

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        return len(data)

    def flush(self) -> None:
        self.sink.flush()

    def close(self) -> None:
        pass

    def __enter__(self) -> _Unclosable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Magic numbers, by what they begin with.
MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
SNIFF_BYTES = 6  # enough for every magic number above


def sniff(head: bytes) -> str | None:
    """The compression a stream beginning with `head` uses, or None for none known."""
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    return None


def sniff_file(path: str | os.PathLike[str]) -> str | None:
    with open(path, "rb") as handle:
        return sniff(handle.read(SNIFF_BYTES))


def _zstd_reader(stream: IO[bytes]) -> IO[bytes]:
    import zstandard  # only zstd input needs it

    reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(stream, closefd=True)
    return reader


DECOMPRESSORS: dict[str, Callable[[IO[bytes]], Any]] = {
    "gzip": lambda stream: gzip.GzipFile(fileobj=stream, mode="rb"),
    "bzip2": lambda stream: bz2.BZ2File(stream, "rb"),
    "xz": lambda stream: lzma.LZMAFile(stream, "rb"),
    "zstd": _zstd_reader,
}


class _ZstdError(Exception):
    """Stands for zstandard.ZstdError until zstandard is imported."""


def decompression_errors() -> tuple[type[BaseException], ...]:
    """What a broken compressed stream raises, whichever library reads it."""
    zstd_error: type[BaseException] = _ZstdError
    if "zstandard" in sys.modules:
        zstd_error = sys.modules["zstandard"].ZstdError
    return (OSError, EOFError, lzma.LZMAError, zlib.error, zstd_error)


class _Prefixed:
    """A stream whose first bytes were already read (to sniff the compression)."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0:
                data, self.head = self.head + self.rest.read(), b""
                return data
            data, self.head = self.head[:size], self.head[size:]
            return data + (self.rest.read(size - len(data)) if len(data) < size else b"")
        return self.rest.read(size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.rest.close()


class _Decompressing:
    """A decompressing reader that closes the stream beneath it too (GzipFile and BZ2File
    leave a stream they were handed open)."""

    def __init__(self, reader: IO[bytes], inner: IO[bytes]):
        self.reader, self.inner = reader, inner

    def read(self, size: int = -1) -> bytes:
        return self.reader.read(size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.reader.close()
        self.inner.close()

    def __enter__(self) -> _Decompressing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decompressed(stream: IO[bytes], kind: str | None = None) -> Any:
    """`stream` uncompressed, as a readable that closes `stream` with itself: as `kind` says,
    or as its first bytes show (then the stream need not be seekable). An unknown or absent
    compression passes the bytes through."""
    if kind is None:
        head = stream.read(SNIFF_BYTES)
        kind = sniff(head)
        prefixed: Any = _Prefixed(head, stream)
        stream = prefixed
    opener = DECOMPRESSORS.get(kind or "")
    return _Decompressing(opener(stream) if opener is not None else stream, stream)
