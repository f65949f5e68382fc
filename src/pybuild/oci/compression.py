"""Layer compression: uncompressed, gzip or zstd, deterministic and fast.

gzip uses ISA-L (the `isal` package) in its threaded mode when it is installed: several times
faster than zlib, and its output does not depend on the thread count. Without it, the standard
library's zlib is the fallback; both write no name and mtime 0, but their bytes differ, so a
gzip digest is reproducible for a given compressor. zstd uses `zstandard` in multi-threaded mode,
whose output is the same for any number of threads. Uncompressed layers (the default for
docker-archive output) are byte-identical everywhere.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import UsageError

ISAL_MAX_LEVEL = 3
DEFAULT_LEVELS = {"gzip": 2, "zstd": 3}
WRITE_SIZE = 1 << 20  # what a compressor is handed at a time (_EvenWrites)
MEDIA_SUFFIX = {"uncompressed": "", "gzip": "+gzip", "zstd": "+zstd"}


@dataclass(frozen=True)
class Compression:
    name: str = "uncompressed"  # uncompressed, gzip or zstd
    level: int | None = None

    def __post_init__(self) -> None:
        if self.name not in MEDIA_SUFFIX:
            raise UsageError(f"compression={self.name}: expected uncompressed, gzip or zstd")
        limits = {"gzip": 9, "zstd": 22}
        if self.level is not None and self.name in limits and not 0 <= self.level <= limits[self.name]:
            raise UsageError(f"compression-level={self.level}: {self.name} takes 0 to {limits[self.name]}")

    @property
    def media_suffix(self) -> str:
        return MEDIA_SUFFIX[self.name]

    def writer(self, sink: BinaryIO) -> BinaryIO:
        """A file-like object that compresses into `sink`; close it to flush (not `sink`)."""
        level = self.level if self.level is not None else DEFAULT_LEVELS.get(self.name)
        # Imported here: a build that writes uncompressed layers should not pay for them.
        if self.name == "gzip":
            try:
                import isal.igzip_threaded as isal_gzip
            except ImportError:  # no isal wheel for this platform: zlib it is
                isal_gzip = None
            if isal_gzip is not None and level <= ISAL_MAX_LEVEL:
                return _EvenWrites(isal_gzip.open(_Unclosable(sink), "wb", compresslevel=level,
                                                  threads=max(os.cpu_count() or 1, 1)))
            return _EvenWrites(gzip.GzipFile(filename="", mode="wb", compresslevel=level,
                                             fileobj=sink, mtime=0))
        if self.name == "zstd":
            import zstandard

            compressor = zstandard.ZstdCompressor(level=level, threads=-1)
            return _EvenWrites(compressor.stream_writer(sink, closefd=False))
        return _Unclosable(sink)


class _EvenWrites:
    """Hands a compressor the stream in writes of exactly WRITE_SIZE bytes (the last may be
    shorter). ISA-L's threaded gzip cuts its blocks where the writes fall (1000-byte writes give
    other bytes than 4096-byte ones), so without this a gzip digest would depend on how the tar
    happened to be written (or a read that came back short), not only on its bytes. zstd does
    not show this here; it goes through the same door so that no library can."""

    def __init__(self, compressor: BinaryIO):
        self.compressor = compressor
        self.pending = bytearray()

    def write(self, data) -> int:
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

    def __init__(self, sink: BinaryIO):
        self.sink = sink

    def write(self, data) -> int:
        return self.sink.write(data)

    def flush(self) -> None:
        self.sink.flush()

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
