"""Putting outputs in place without ever leaving half of one: a file is written beside its
destination under a temporary name and renamed when complete; a directory is built beside its
destination and replaces it only when that is missing, empty, or an earlier output of the same
kind. A failed or interrupted build (Ctrl-C, SIGTERM) leaves neither partial output nor a
damaged earlier one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import UsageError


def current_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _parent(path: Path) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output directory does not exist: {parent}")
    return parent


@contextmanager
def file_in_place(path: Path) -> Iterator[BinaryIO]:
    """A temporary file beside `path` to write; when the block succeeds it becomes `path`."""
    handle = tempfile.NamedTemporaryFile(
        dir=_parent(path), prefix=f".{path.name}.", suffix=".partial", delete=False
    )
    try:
        with handle:
            yield handle  # type: ignore[misc]
        os.chmod(handle.name, 0o644 & ~current_umask())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


@contextmanager
def directory_in_place(path: Path, marker: str, kind: str) -> Iterator[Path]:
    """A fresh directory beside `path` to build in; when the block succeeds it replaces `path`,
    which may be missing, empty, or an earlier output of the same kind (it holds `marker`).
    On any failure or interruption the half-built directory goes and `path` is untouched."""
    if path.exists() and not (path / marker).is_file() and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not {kind}; choose another dest")
    building = Path(tempfile.mkdtemp(dir=_parent(path), prefix=f".{path.name}.", suffix=".partial"))
    try:
        yield building
        os.chmod(building, 0o755 & ~current_umask())
        if path.exists():
            shutil.rmtree(path)
        os.replace(building, path)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
