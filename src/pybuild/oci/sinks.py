"""Byte sinks that layers stream through: one that hashes and counts, one that keeps nothing,
one that copies to several, and one that gathers small writes into large ones."""

from __future__ import annotations

import hashlib
from typing import Protocol

BLOCK = 512  # a tar's block: headers and padding come in these
CHUNK = 1 << 20  # how much of a file is read, copied or handed on at a time
SMALL = 64 << 10  # writes up to this size are gathered (Coalesced)


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


class HashingWriter:
    """Passes bytes to `sink` while counting them and computing their sha256."""

    def __init__(self, sink: Sink):
        self.sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sink.write(data)
        self.sha256.update(data)
        self.size += len(data)

    def flush(self) -> None:
        self.sink.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()


class DiscardSink:
    """A sink that keeps nothing: for digests of bytes nobody needs to store."""

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass


class Tee:
    """Writes to every sink in turn."""

    def __init__(self, *sinks: Sink):
        self.sinks = sinks

    def write(self, data: bytes) -> None:
        for sink in self.sinks:
            sink.write(data)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()


class Coalesced:
    """Gathers small writes into writes of about CHUNK bytes: a layer of many small files
    otherwise pays for every header and file passing through the hashing and compressing
    writers one by one. Larger writes go straight on, uncopied. Call flush() at the end."""

    def __init__(self, out: Sink):
        self.out = out
        self.pending = bytearray()

    def write(self, data: bytes) -> None:
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
