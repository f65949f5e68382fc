"""The hashing sink: large writes are hashed on a worker thread, in order, and a caller's
reused buffer is never hashed after it changed."""

from __future__ import annotations

import hashlib
import io
import random

from pybuild.oci.sinks import OFFLOAD, Coalesced, HashingWriter


def test_mixed_writes_hash_as_one_stream_in_order():
    rng = random.Random(1)
    out, expected = io.BytesIO(), hashlib.sha256()
    hashing = HashingWriter(out)
    reused = bytearray(OFFLOAD * 2)
    for _ in range(200):
        size = rng.choice([0, 1, 511, OFFLOAD - 1, OFFLOAD, OFFLOAD * 2])
        data = rng.randbytes(size)
        if size == OFFLOAD * 2 and rng.random() < 0.5:  # a buffer the caller fills again
            reused[:] = data
            hashing.write(reused)  # type: ignore[arg-type]
            reused[:] = bytes(len(reused))
        elif rng.random() < 0.3:
            hashing.write(memoryview(data))  # type: ignore[arg-type]
        else:
            hashing.write(data)
        expected.update(data)
    assert hashing.digest == "sha256:" + expected.hexdigest()
    assert hashing.digest == "sha256:" + expected.hexdigest()  # asked twice: the same
    assert hashing.size == len(out.getvalue())
    assert hashlib.sha256(out.getvalue()).hexdigest() == expected.hexdigest()


def test_writes_after_a_digest_go_on_in_order():
    hashing = HashingWriter(io.BytesIO())
    first, second = b"a" * OFFLOAD, b"b" * (OFFLOAD + 3)
    hashing.write(first)
    assert hashing.digest == "sha256:" + hashlib.sha256(first).hexdigest()
    hashing.write(second)
    hashing.write(b"c")
    assert hashing.digest == "sha256:" + hashlib.sha256(first + second + b"c").hexdigest()


def test_coalesced_small_writes_reach_the_hash_whole():
    hashing = HashingWriter(io.BytesIO())
    gathered = Coalesced(hashing)
    pieces = [bytes([n % 251]) * (n % 700) for n in range(5000)]
    for piece in pieces:
        gathered.write(piece)
    gathered.flush()
    assert hashing.digest == "sha256:" + hashlib.sha256(b"".join(pieces)).hexdigest()
