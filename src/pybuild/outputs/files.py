"""Putting outputs in place without ever leaving half of one: a file is written beside its
destination under a temporary name and renamed when complete; a directory is built beside its
destination and replaces it only when that is missing, empty, or a directory pybuild wrote (it
holds MARKER, naming the kind of output): a user's directory is never replaced. A failed or
interrupted build (Ctrl-C, SIGTERM) leaves neither partial output nor a damaged earlier one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import UsageError

MARKER = ".pybuild-output"  # in every directory pybuild writes: what kind of output it is


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
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give the archive a file name")
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
def directory_in_place(path: Path, kind: str) -> Iterator[Path]:
    """A fresh directory beside `path` to build in; when the block succeeds it replaces `path`,
    which may be missing, empty, or an earlier pybuild output of the same `kind`. The old one
    is moved aside before the new one moves in, and deleted after, so no moment lacks both.
    On any failure or interruption the half-built directory goes and `path` is untouched."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise UsageError(f"{path} is not a directory pybuild wrote; choose another dest")
    if path.exists() and any(path.iterdir()) and _marker(path) != kind:
        raise UsageError(
            f"{path} exists and is not pybuild's {kind} output (no {MARKER} in it); "
            "choose another dest"
        )
    parent = _parent(path)
    building = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        yield building
        (building / MARKER).write_text(kind + "\n")
        os.chmod(building, 0o755 & ~current_umask())
        aside = None
        if path.exists():
            aside = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, aside / path.name)
        os.replace(building, path)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _marker(path: Path) -> str | None:
    try:
        return (path / MARKER).read_text().strip()
    except OSError:
        return None
