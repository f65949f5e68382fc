"""Byte sinks that layers stream through: one that hashes and counts, one that keeps nothing,
one that copies to several, and one that gathers small writes into large ones."""

from __future__ import annotations

import hashlib
import queue
import threading
import weakref
from typing import Any, Protocol

BLOCK = 512  # a tar's block: headers and padding come in these
CHUNK = 1 << 20  # how much of a file is read, copied or handed on at a time
SMALL = 64 << 10  # writes up to this size are gathered (Coalesced)
OFFLOAD = 256 << 10  # writes from this size on are hashed on a worker thread (HashingWriter)


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


class HashingWriter:
    """Passes bytes to `sink` while counting them and computing their sha256. Large writes are
    hashed on a worker thread (hashlib releases the GIL), so the hash of one chunk overlaps
    the reading and writing of the next: a layer costs one pass over its bytes, not two in
    a row. Reading `digest` waits for the hash to catch up."""

    def __init__(self, sink: Sink):
        self.sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._worker: _HashWorker | None = None

    def write(self, data: bytes) -> None:
        self.sink.write(data)
        self.size += len(data)
        if self._worker is None and len(data) < OFFLOAD:
            self.sha256.update(data)
            return
        if self._worker is None:
            self._worker = _HashWorker(self.sha256)
        # The caller may reuse a mutable buffer once write returns; the worker gets a copy.
        self._worker.put(data if type(data) is bytes else bytes(data))

    def flush(self) -> None:
        self.sink.flush()

    @property
    def digest(self) -> str:
        if self._worker is not None:
            self._worker.finish()
            self._worker = None
        return "sha256:" + self.sha256.hexdigest()


class _HashWorker:
    """A thread that feeds queued chunks to one hash, in order; at most DEPTH chunks wait."""

    DEPTH = 8

    def __init__(self, sha256: Any):
        self.queue: queue.Queue[bytes | None] = queue.Queue(self.DEPTH)
        self.thread = threading.Thread(
            target=_hash_chunks, args=(self.queue, sha256), daemon=True, name="pybuild-sha256"
        )
        self.thread.start()
        # A writer abandoned mid-layer (an error) still lets its thread end.
        self._stop = weakref.finalize(self, self.queue.put, None)

    def put(self, data: bytes) -> None:
        self.queue.put(data)

    def finish(self) -> None:
        self._stop()
        self.thread.join()


def _hash_chunks(chunks: queue.Queue[bytes | None], sha256: Any) -> None:
    while (chunk := chunks.get()) is not None:
        sha256.update(chunk)


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
