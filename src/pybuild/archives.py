"""Recognise tar archives by content, as Docker does for ADD (never by file name): a file is an
archive when it, or its gzip/bzip2/xz/zstd-decompressed start, is a tar header."""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import zlib
from pathlib import Path

COMPRESSIONS = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def _is_tar_header(block: bytes) -> bool:
    if len(block) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(block[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _decompressed_head(path: Path, kind: str) -> bytes:
    opener = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}[kind]
    try:
        with opener(path, "rb") as handle:
            return handle.read(tarfile.BLOCKSIZE)
    except (OSError, EOFError, lzma.LZMAError, zlib.error):
        return b""


def archive_kind(path: Path) -> str | None:
    """'tar', 'gzip', 'bzip2', 'xz' or 'zstd' (the tar's compression) when ADD would extract the
    file; None when it would copy it."""
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        head = handle.read(tarfile.BLOCKSIZE)
    for magic, kind in COMPRESSIONS:
        if head.startswith(magic):
            if kind == "zstd":  # no zstd decoder in the standard library: assume a tar inside
                return kind
            return kind if _is_tar_header(_decompressed_head(path, kind)) else None
    return "tar" if _is_tar_header(head) else None
