"""Where blobs go: into one tar (docker-archive / OCI archive) or into a directory (oci-dir).

Blobs are named by digest, but a layer's digest is known only after its bytes went by:
- TarStore writes a placeholder header, streams the layer, then rewrites the header in place
  (the sink is a seekable file). Headers use the GNU format so a header is always 512 bytes,
  even for a layer over 8 GiB (base-256 size). Every member has mtime 0, uid/gid 0 and no
  owner names, so equal images give equal archives.
- DirStore streams into a temporary file beside the blobs and renames it to its digest.
Both store a blob once, however often it is referenced (a repeated layer is dropped again).
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from ..errors import UsageError
from .model import sha256_digest
from .layer import BLOCK, LayerBlob


@contextmanager
def directory_in_place(path: Path, marker: str, kind: str) -> Iterator[Path]:
    """A fresh directory beside `path` to build in; when the block succeeds it replaces `path`,
    which may be missing, empty, or an earlier output of the same kind (it holds `marker`).
    On any failure or interruption the half-built directory goes and `path` is untouched."""
    if path.exists() and not (path / marker).is_file() and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not {kind}; choose another dest")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output directory does not exist: {parent}")
    building = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        yield building
        os.chmod(building, 0o755 & ~current_umask())
        if path.exists():
            shutil.rmtree(path)
        os.replace(building, path)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def current_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def blob_path(digest: str) -> str:
    algorithm, hex_digest = digest.split(":", 1)
    return f"blobs/{algorithm}/{hex_digest}"


class BlobStore(Protocol):
    def streamed_blob(self, produce: Callable[[BinaryIO], LayerBlob]) -> LayerBlob: ...

    def blob(self, data: bytes) -> str: ...

    def file(self, name: str, data: bytes) -> None: ...

    def close(self) -> None: ...


class TarStore:
    """Members of one tar, written to a seekable binary file."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.names: set[str] = set()
        self._directory("blobs/")
        self._directory("blobs/sha256/")

    @staticmethod
    def header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.type = size, kind
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        info.mtime, info.uname, info.gname = 0, "", ""
        return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")

    def _directory(self, name: str) -> None:
        self.out.write(self.header(name, 0, tarfile.DIRTYPE))

    def file(self, name: str, data: bytes) -> None:
        if name in self.names:
            return
        self.names.add(name)
        self.out.write(self.header(name, len(data)))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % BLOCK))

    def blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        self.file(blob_path(digest), data)
        return digest

    def streamed_blob(self, produce: Callable[[BinaryIO], LayerBlob]) -> LayerBlob:
        start = self.out.tell()
        self.out.write(b"\0" * BLOCK)
        written = produce(self.out)
        self.out.write(b"\0" * (-written.size % BLOCK))
        name = blob_path(written.digest)
        end = self.out.tell()
        self.out.seek(start)
        if name in self.names:
            self.out.truncate()
            return written
        self.names.add(name)
        self.out.write(self.header(name, written.size))
        self.out.seek(end)
        return written

    def close(self) -> None:
        self.out.write(b"\0" * (2 * BLOCK))


class DirStore:
    """An OCI image layout as a directory."""

    def __init__(self, root: Path):
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)

    def file(self, name: str, data: bytes) -> None:
        (self.root / name).write_bytes(data)

    def blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        self.file(blob_path(digest), data)
        return digest

    def streamed_blob(self, produce: Callable[[BinaryIO], LayerBlob]) -> LayerBlob:
        with tempfile.NamedTemporaryFile(dir=self.blobs, prefix=".partial-", delete=False) as out:
            written = produce(out)
        os.replace(out.name, self.root / blob_path(written.digest))
        return written

    def close(self) -> None:
        pass
