"""The blob store: pybuild's layer cache (`--cache-dir`, default ~/.cache/pybuild; `--no-cache` to skip).

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
import stat
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from ..errors import PybuildError
from ..filestat import default_cache_dir, file_stat
from .compression import Compression
from .layout import BLOBS, blob_path
from .model import LayerBlob, sha256_digest, sha256_file
from .sinks import CHUNK, Sink, Tee

if TYPE_CHECKING:
    from .layer import LayerEntry

# Bump when what a key covers, or the bytes a key stands for, change. 2: compressors are handed
# even writes (compression.py), so gzip blobs cached by version 1 hold other bytes.
FORMAT = 2
STAMPS = 100_000  # files a layer's stamps name at most (see layer_key)
# What pybuild writes in a cache directory, and so all that prune may delete: blobs, layer
# records, tag resolutions, output records, up-to-date records (recording.py) and build
# summaries (reports/why.py). Anything else there is not pybuild's and stays.
STORE_FOLDERS = (BLOBS, "layers", "resolved", "outputs", "builds", "summaries")


def default_cache_path() -> Path:
    return Path(default_cache_dir())


def _used(path: Path) -> None:
    """Mark a cache file as just used: pruning removes the least recently used first, by
    mtime (access times are not kept on most mounts)."""
    try:
        os.utime(path)
    except OSError:
        pass


@dataclass(frozen=True)
class Pruned:
    removed: int  # files deleted
    freed: int  # bytes
    kept: int  # bytes the store still holds


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".partial-", delete=False) as out:
        out.write(data)
    os.replace(out.name, path)


class BlobStore:
    """A cache directory; `BlobStore(None)` is a cache that never hits and never stores."""

    def __init__(self, root: Path | None):
        self.root = root

    def keeps(self, compression: Compression) -> bool:
        """Whether blobs of this compression are kept (uncompressed ones are cheaper to write)."""
        return self.root is not None and compression.name != "uncompressed"

    def layer_key(
        self,
        entries: Iterable[LayerEntry],
        compression: Compression,
        *,
        stamps: dict[str, int] | None = None,
    ) -> str | None:
        """The key of a layer made of `entries`, or None when it cannot be cached (a source
        vanished, or the cache is off). `stamps` receives, for up to STAMPS entries, a
        checksum of what the key took from each (its fields and its source's stat): how the
        next build tells which files changed (explain --why)."""
        if self.root is None:
            return None
        digest = hashlib.sha256(
            f"pybuild-layer-v{FORMAT}|{compression.name}|{compression.level}".encode()
        )
        groups = []
        for entry in entries:
            source: object = None
            if entry.data is not None:
                source = hashlib.sha256(entry.data).hexdigest()
            elif entry.source is not None:
                identity = file_stat(entry.source)
                if identity is None:
                    return None
                source = [str(entry.source), entry.offset, identity]
            record = [
                entry.path,
                entry.kind,
                entry.mode,
                entry.uid,
                entry.gid,
                entry.size,
                entry.mtime,
                entry.linkname,
                entry.link_group != "",
                source,
            ]
            line = json.dumps(record).encode() + b"\n"
            digest.update(line)
            if stamps is not None and len(stamps) < STAMPS:
                stamps[entry.path] = zlib.crc32(line)
            if entry.link_group:
                groups.append(entry.link_group)
        digest.update(json.dumps([groups.index(g) for g in groups]).encode())  # link structure
        return digest.hexdigest()

    def lookup(self, key: str | None) -> LayerBlob | None:
        if self.root is None or key is None:
            return None
        try:
            path = self.root / "layers" / f"{key}.json"
            record = json.loads(path.read_text())
            _used(path)
            return LayerBlob(record["diff_id"], record["digest"], record["size"])
        except (OSError, ValueError, KeyError):
            return None

    def prune(
        self,
        *,
        keep_bytes: int | None = None,
        unused_for: float | None = None,
        grace: float = 60.0,
        now: float | None = None,
    ) -> Pruned:
        """Delete cache files (only in STORE_FOLDERS) least recently used first: every one unused for more than
        `unused_for` seconds, then more until the store holds at most `keep_bytes` (neither:
        all). Files used in the last `grace` seconds stay: a build under way may be about to
        read one, and a build that finds a blob gone builds its layer (the cache is an aid),
        so pruning is safe while builds run."""
        if self.root is None or not self.root.is_dir():
            return Pruned(0, 0, 0)
        moment = time.time() if now is None else now
        files = []
        owned = (self.root / name for name in STORE_FOLDERS)
        for path in (found for folder in owned for found in folder.rglob("*")):
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                files.append((info.st_mtime, info.st_size, path))
        files.sort()
        total = sum(size for _, size, _ in files)
        removed = freed = 0
        everything = keep_bytes is None and unused_for is None
        for mtime, size, path in files:
            age = moment - mtime
            if age < grace:
                continue
            old = unused_for is not None and age > unused_for
            over = keep_bytes is not None and total > keep_bytes
            if not (everything or old or over):
                continue
            try:
                path.unlink()
            except OSError:
                continue
            total, removed, freed = total - size, removed + 1, freed + size
        return Pruned(removed, freed, total)

    def remember(self, key: str | None, blob: LayerBlob) -> None:
        if self.root is None or key is None:
            return
        record = {"diff_id": blob.diff_id, "digest": blob.digest, "size": blob.size}
        _atomic_write(self.root / "layers" / f"{key}.json", json.dumps(record).encode())

    def blob_file(self, digest: str) -> Path | None:
        return None if self.root is None else self.root / blob_path(digest)

    def verified_blob(self, digest: str) -> Path | None:
        """The stored blob of `digest` when it is there and still hashes to it (one that does
        not is deleted, never used)."""
        path = self.blob_file(digest)
        if path is None or not path.is_file():
            return None
        if sha256_file(path) == digest:
            _used(path)
            return path
        path.unlink(missing_ok=True)
        return None

    def keep_bytes(self, data: bytes) -> None:
        """Keep a small blob (a manifest) under its digest."""
        if self.root is not None:
            _atomic_write(self.root / blob_path(sha256_digest(data)), data)

    def resolution(self, name: str, platform: str) -> str | None:
        """The manifest digest `name` (a tag) resolved to for `platform` when last pulled."""
        if self.root is None:
            return None
        try:
            record = json.loads(self._resolution_file(name, platform).read_text())
            return str(record["digest"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def remember_resolution(self, name: str, platform: str, digest: str) -> None:
        if self.root is not None:
            record = {"name": name, "platform": platform, "digest": digest}
            _atomic_write(self._resolution_file(name, platform), json.dumps(record).encode())

    def _resolution_file(self, name: str, platform: str) -> Path:
        assert self.root is not None
        key = hashlib.sha256(f"{name}|{platform}".encode()).hexdigest()
        return self.root / "resolved" / f"{key}.json"

    def fetch_into(
        self, digest: str, download: Callable[[Path], str | None], scratch: Path
    ) -> Path:
        """A blob fetched by `download(path)` and checked against `digest`: kept in the store
        (under its digest) when the store is on, else in `scratch`. `download` returns the
        digest it computed while the bytes streamed in, or None to have the file hashed."""
        directory = self.root / Path(blob_path(digest)).parent if self.root is not None else scratch
        directory.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=directory, prefix=".partial-", delete=False)
        handle.close()
        partial = Path(handle.name)
        try:
            streamed = download(partial)
            if (streamed or sha256_file(partial)) != digest:
                raise InvalidBlob(f"blob {digest} arrived with other bytes")
            if self.root is None:
                return partial
            target = self.root / blob_path(digest)
            os.replace(partial, target)
            return target
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    @staticmethod
    def copy_verified(path: Path, sink: Sink, expected: LayerBlob) -> bool:
        """Copy a blob file into `sink`; whether it held exactly the expected bytes."""
        digest, size = hashlib.sha256(), 0
        try:
            with open(path, "rb") as blob:
                while chunk := blob.read(CHUNK):
                    sink.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except OSError:
            return False
        return "sha256:" + digest.hexdigest() == expected.digest and size == expected.size

    def copy_cached(
        self, key: str | None, compression: Compression, sink: BinaryIO
    ) -> LayerBlob | None:
        """Copy the layer's cached blob into `sink` when it is kept and intact. A corrupt one is
        never used: what was copied is cut off again and the file deleted."""
        hit = self.lookup(key)
        cached = self.blob_file(hit.digest) if hit is not None and self.keeps(compression) else None
        if hit is None or cached is None or not cached.is_file():
            return None
        start = sink.tell()
        if self.copy_verified(cached, sink, hit):
            _used(cached)
            return hit
        sink.seek(start)
        sink.truncate()
        cached.unlink(missing_ok=True)
        return None

    def write_through(
        self,
        key: str | None,
        compression: Compression,
        sink: Sink,
        *,
        make: Callable[[Sink], LayerBlob],
    ) -> LayerBlob:
        """`make` the blob into `sink`, keeping a copy in the cache on the way when blobs of
        this compression are kept, and remember its digests under `key`. The cache is an aid:
        when it cannot be written (a full or read-only disk) the build goes on without it."""
        spare = self._spare() if key is not None and self.keeps(compression) else None
        try:
            blob = make(Tee(sink, spare) if spare is not None else sink)
        except BaseException:
            if spare is not None:
                spare.discard()
            raise
        if spare is None or spare.keep(self.root / blob_path(blob.digest)):  # type: ignore[operator]
            self.remember(key, blob)
        return blob

    def _spare(self) -> _CacheCopy | None:
        assert self.root is not None
        directory = self.root / Path(blob_path("sha256:x")).parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            return _CacheCopy(
                tempfile.NamedTemporaryFile(dir=directory, prefix=".partial-", delete=False)
            )
        except OSError:
            return None

    def _output_record(self, dest: Path) -> Path | None:
        if self.root is None:
            return None
        return self.root / "outputs" / hashlib.sha256(str(dest.resolve()).encode()).hexdigest()

    def output_holds(self, dest: Path, manifest_digest: str) -> bool:
        """Whether `dest` is still the file a build wrote with this manifest."""
        record_path = self._output_record(dest)
        if record_path is None:
            return False
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            return False
        return bool(
            record.get("manifest") == manifest_digest and record.get("stat") == file_stat(dest)
        )

    def remember_output(self, dest: Path, manifest_digest: str, identity: list[int] | None) -> None:
        """Remember that `dest` holds this image: `identity` is the file pybuild wrote there.
        When `dest` is another file by now (a concurrent writer), nothing is remembered."""
        record_path = self._output_record(dest)
        if record_path is None or identity is None or file_stat(dest) != identity:
            return
        record = {"manifest": manifest_digest, "stat": identity, "path": str(dest.resolve())}
        _atomic_write(record_path, json.dumps(record).encode())


NO_CACHE = BlobStore(None)


class InvalidBlob(PybuildError):
    """A blob whose bytes are not what its digest says."""


class _CacheCopy:
    """The cache's copy of a blob being written: a write that fails (disk full) drops the copy,
    never the build; a copy that is not whole is never kept."""

    def __init__(self, handle: IO[bytes]):
        self.handle = handle
        self.failed = False

    def write(self, data: bytes) -> None:
        if not self.failed:
            try:
                self.handle.write(data)
            except OSError:
                self.failed = True

    def flush(self) -> None:
        pass

    def keep(self, target: Path) -> bool:
        """Move the whole copy to `target`; False (and nothing left) when it is not whole."""
        try:
            self.handle.close()
            if not self.failed:
                os.replace(self.handle.name, target)
                return True
        except OSError:
            pass
        self.discard()
        return False

    def discard(self) -> None:
        try:
            self.handle.close()
        except OSError:
            pass
        Path(self.handle.name).unlink(missing_ok=True)
