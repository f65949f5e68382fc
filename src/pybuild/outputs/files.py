"""Putting outputs in place without ever leaving half of one: a file is written beside its
destination under a temporary name and renamed when complete; a directory is built beside its
destination and replaces it only when that is missing, empty, or a directory pybuild wrote (it
holds MARKER, naming the kind of output): a user's directory is never replaced. A failed or
interrupted build (Ctrl-C, SIGTERM) leaves neither partial output nor a damaged earlier one.

A directory is swapped with the old one in one step (renameat2 RENAME_EXCHANGE) where the
kernel and file system can, so no moment shows neither; elsewhere the old one is renamed aside
first. Two builds into one directory: the second fails at once (a lock beside it), so neither
sees the other's half."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import UsageError
from ..filestat import stat_identity

MARKER = ".pybuild-output"  # in every directory pybuild writes: what kind of output it is

# Outputs put in place by this process, in order: an interrupt that comes after (while loading
# or recording, say) must not be reported as "no output written".
PLACED: list[Path] = []


def current_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _parent(path: Path) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output directory does not exist: {parent}")
    return parent


@dataclass
class PlacedFile:
    """A file being written beside its destination: `stream` to write, and once in place the
    identity (filestat) of the very file pybuild wrote, taken from its open descriptor after
    the rename, so a writer that replaces it a moment later is never mistaken for pybuild."""

    stream: BinaryIO
    identity: list[int] | None = None


@contextmanager
def file_in_place(path: Path) -> Iterator[PlacedFile]:
    """A temporary file beside `path` to write; when the block succeeds it becomes `path`."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give the archive a file name")
    handle = tempfile.NamedTemporaryFile(
        dir=_parent(path), prefix=f".{path.name}.", suffix=".partial", delete=False
    )
    placed = PlacedFile(handle)  # type: ignore[arg-type]
    try:
        with handle:
            yield placed
            handle.flush()
            os.chmod(handle.name, 0o644 & ~current_umask())
            os.replace(handle.name, path)
            PLACED.append(path)
            placed.identity = stat_identity(os.fstat(handle.fileno()))
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


@contextmanager
def directory_in_place(path: Path, kind: str) -> Iterator[Path]:
    """A fresh directory beside `path` to build in; when the block succeeds it replaces `path`,
    which may be missing, empty, or an earlier pybuild output of the same `kind`. On any
    failure or interruption the half-built directory goes and `path` is untouched."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise UsageError(f"{path} is not a directory pybuild wrote; choose another dest")
    parent = _parent(path)
    with _only_writer(path):
        found = _marker(path) if path.exists() else None
        if path.exists() and any(path.iterdir()) and found != kind:
            why = f"it is pybuild's {found} output" if found else f"no {MARKER} in it"
            raise UsageError(
                f"{path} exists and is not pybuild's {kind} output ({why}); choose another dest"
            )
        building = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.", suffix=".partial"))
        try:
            yield building
            (building / MARKER).write_text(kind + "\n")
            os.chmod(building, 0o755 & ~current_umask())
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        _replace_directory(building, path)


def _replace_directory(new: Path, path: Path) -> None:
    """Put the complete directory `new` at `path`, then delete what was there. With
    RENAME_EXCHANGE the two swap in one step and `new` then names the old one; without it, the
    old one is renamed aside first: a crash between the two renames leaves it complete beside
    `path` (as .NAME.*.old), never half deleted."""
    if path.exists() and _exchange(new, path):
        PLACED.append(path)
        shutil.rmtree(new, ignore_errors=True)
        return
    aside = None
    if path.exists():
        aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
        os.replace(path, aside / path.name)
    try:
        os.replace(new, path)
    except BaseException:
        if aside is not None:
            os.replace(aside / path.name, path)  # put the old one back
            aside.rmdir()
        shutil.rmtree(new, ignore_errors=True)
        raise
    PLACED.append(path)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


AT_FDCWD = -100
RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False where the C library,
    kernel or file system lacks it."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE):
        number = ctypes.get_errno()
        if number in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
            return False
        raise OSError(number, os.strerror(number), str(second))
    return True


@contextmanager
def _only_writer(path: Path) -> Iterator[None]:
    """Hold a lock on `path` for the whole build into it; a second build into the same
    directory fails at once. The lock file (.NAME.pybuild-lock, beside it) goes when done."""
    import fcntl

    lock = path.parent / f".{path.name}.pybuild-lock"
    while True:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise UsageError(
                f"{path} is being written by another pybuild right now; wait for it, or "
                "choose another dest"
            ) from None
        try:  # the lock counts only if its file is still the one beside path
            if os.fstat(descriptor).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(descriptor)
    try:
        _remove_leftovers(path)
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(descriptor)


def _remove_leftovers(path: Path) -> None:
    """What a killed build into `path` left beside it (its half-built or set-aside directory,
    named as tempfile.mkdtemp names them here): with the lock held, no build owns them now."""
    import re

    pattern = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}\.(partial|old)")
    for sibling in path.parent.iterdir():
        if not pattern.fullmatch(sibling.name) or sibling.is_symlink() or not sibling.is_dir():
            continue
        old = sibling / path.name
        if sibling.name.endswith(".old") and old.is_dir() and not path.exists():
            os.replace(old, path)  # killed between the two renames: the old output comes back
        shutil.rmtree(sibling, ignore_errors=True)


def _marker(path: Path) -> str | None:
    try:
        return (path / MARKER).read_text().strip()
    except OSError:
        return None
