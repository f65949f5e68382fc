"""The build context: the only place COPY/ADD may read from.

Sources are cleaned like Docker cleans them (a leading `/` means the context root); `..` that
leaves the context is refused; globs follow Go's `filepath.Match`; a source that is a symlink is
followed with the context as its root (an absolute target means the context's path, as Docker
resolves it), and a link that climbs out of the context is refused rather than clamped.
"""

from __future__ import annotations

import errno
import functools
import os
import posixpath
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..dockerfile.globs import BadPattern, Glob, go_path_glob
from ..errors import ContextError
from ..oci.rootfs import follow_symlinks

if TYPE_CHECKING:
    from .ignore import IgnoreRules

GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class SourceFile:
    """One file system object found in the context, with the metadata a layer keeps."""

    relative: str  # path below the thing being copied ("" for the thing itself)
    path: str | Path | None  # where to read a file's bytes
    kind: str  # "file", "dir" or "symlink"
    mode: int  # permission bits, setuid/setgid/sticky included
    size: int
    mtime: int
    linkname: str = ""
    uid: int = 0  # owners matter only for files from a stage; context files belong to root
    gid: int = 0
    link_group: str = ""  # the same for files that are hard links of one another
    data: bytes | None = None  # an inline file's bytes (a heredoc), instead of `path`
    offset: int = 0  # where the bytes start in `path` (a member of an uncompressed tar)
    beneath: Path | None = None  # a context file is opened beneath this root, links refused
    identity: tuple[int, int] | None = None  # (device, inode) as walked: what must be read


@functools.lru_cache(maxsize=256)
def _glob(pattern: str) -> Glob:
    try:
        return go_path_glob(pattern)
    except BadPattern as error:
        raise ContextError(str(error)) from None


def glob_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match, in time linear in the name whatever the stars."""
    return _glob(pattern).fullmatch(name)


def clean_source(source: str) -> str:
    """The source as a clean path relative to the context root ('.' for the root itself)."""
    cleaned = posixpath.normpath("/" + source.lstrip("/")) if source.startswith("/") else None
    relative = posixpath.normpath(source) if cleaned is None else cleaned.lstrip("/") or "."
    if relative == ".." or relative.startswith("../"):
        raise ContextError(f"forbidden path outside the build context: {source}")
    return relative


class BuildContext:
    """A directory whose files COPY/ADD may read; nothing outside it is ever opened. Paths that
    `.dockerignore` excludes are invisible, as if they had not been sent to a daemon."""

    def __init__(self, root: Path, ignore: IgnoreRules | None = None, *, name: str = ""):
        self.root = root.resolve()
        self.ignore = ignore
        self.name = name  # a named context (--build-context NAME=DIR), for error messages
        self.excluded: list[str] = []  # paths .dockerignore hid from a COPY (for explain)

    def ignored(self, relative: str) -> bool:
        return self.ignore is not None and relative != "." and self.ignore.ignored(relative)

    def digest(self) -> str:
        """One digest for what the context holds (every path .dockerignore keeps: its kind,
        mode, link target and bytes, in sorted order), for provenance: equal contexts, equal
        digests, whatever their times and owners. Links are never followed. The top `.git`
        is left out (provenance names the commit; `git gc` must not change the digest), and
        so is an ignored directory no `!` rule reaches into."""
        import hashlib

        total = hashlib.sha256()
        prune = self.ignore is None or not self.ignore.has_exclusions
        for directory, dirnames, filenames in os.walk(self.root, onerror=_unreadable):
            base = os.path.relpath(directory, self.root)
            names = sorted(dirnames + filenames)
            dirnames[:] = sorted(
                name
                for name in dirnames
                if not (base == "." and name == ".git")
                and not (prune and self.ignored(self._joined(base, name)))
            )
            for name in names:
                relative = self._joined(base, name)
                if self.ignored(relative) or (base == "." and name == ".git"):
                    continue
                total.update(self._described(relative).encode("utf-8", "surrogateescape"))
        return "sha256:" + total.hexdigest()

    @staticmethod
    def _joined(base: str, name: str) -> str:
        return name if base == "." else f"{base}/{name}"

    def _described(self, relative: str) -> str:
        """A path's line in the context digest."""
        import hashlib

        info = (self.root / relative).lstat()
        if stat.S_ISLNK(info.st_mode):
            detail = "link " + os.readlink(self.root / relative)
        elif stat.S_ISREG(info.st_mode):
            content = hashlib.sha256()
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # a swapped-in link: refused
            with open(os.open(self.root / relative, flags), "rb", buffering=0) as handle:
                while chunk := handle.read(1 << 20):
                    content.update(chunk)
            detail = "file " + content.hexdigest()
        else:
            detail = "dir" if stat.S_ISDIR(info.st_mode) else "other"
        return f"{relative}\0{stat.S_IMODE(info.st_mode):o}\0{detail}\n"

    def resolve_in_scope(self, relative: str) -> str:
        """Follow symlinks in `relative` (a clean context path) without leaving the context;
        returns the resolved clean context path."""

        def read_link(path: str) -> str | None:
            candidate = self.root / path
            return os.readlink(candidate) if candidate.is_symlink() else None

        def above_root() -> None:
            raise ContextError(
                f"forbidden path outside the build context: {relative} "
                "(a symlink points above the context root)"
            )

        return follow_symlinks(relative, read_link, above_root) or "."

    def match(self, source: str) -> list[str]:
        """Clean context paths that `source` names: itself, or every path its glob matches
        (possibly none: Docker accepts that when another source of the COPY exists)."""
        relative = clean_source(source)
        if not GLOB_CHARS.search(relative):
            return [relative]
        matches = [path for path in self._all_paths() if glob_match(relative, path)]
        kept = [path for path in matches if not self.ignored(path)]
        self.excluded += [path for path in matches if path not in kept]
        return kept

    def _all_paths(self) -> Iterator[str]:
        for directory, dirnames, filenames in os.walk(self.root, onerror=_unreadable):
            dirnames.sort()
            base = os.path.relpath(directory, self.root)
            for name in sorted(dirnames + filenames):
                yield name if base == "." else f"{base}/{name}"

    def stat_source(self, relative: str, source: str) -> tuple[str, os.stat_result]:
        """Resolve a source path (following its symlinks inside the context) and stat it."""
        resolved = self.resolve_in_scope(relative)
        path = self.root / resolved
        try:
            info = path.lstat()
            if self.ignored(relative) or self.ignored(resolved):
                # A directory .dockerignore excludes still holds what a `!` rule brings back.
                if not (stat.S_ISDIR(info.st_mode) and self._keeps_below(resolved)):
                    raise FileNotFoundError
        except FileNotFoundError:
            detail = (
                f" (it resolves to {resolved} inside the context)" if resolved != relative else ""
            )
            where = (
                f"build context {self.name!r} ({self.root})"
                if self.name
                else "build context or excluded by .dockerignore"
            )
            raise ContextError(f"file not found in {where}: {source}{detail}") from None
        except OSError as error:
            raise ContextError(f"cannot read {source}: {error.strerror}") from None
        return resolved, info

    def _keeps_below(self, resolved: str) -> bool:
        """Whether anything below the excluded directory `resolved` is brought back."""
        if self.ignore is None or not self.ignore.has_exclusions:
            return False
        for directory, dirnames, filenames in os.walk(self.root / resolved):
            base = os.path.relpath(directory, self.root)
            if any(not self.ignored(f"{base}/{name}") for name in dirnames + filenames):
                return True
        return False

    def walk(self, resolved: str) -> Iterator[SourceFile]:
        """The source and, for a directory, everything below it, in layer order (a directory
        right before what it holds, names sorted); symlinks inside a directory are kept as
        links. Paths .dockerignore hides are noted in `excluded`."""
        top = f"{self.root}/{resolved}" if resolved != "." else str(self.root)
        described = _describe(top, "", os.lstat(top), beneath=self.root)
        yield described
        if described.kind == "dir":
            yield from self.below(resolved)

    def below(
        self, resolved: str, *, read_up_to: int = 0, note: bool = True
    ) -> Iterator[SourceFile]:
        """Everything below the context directory `resolved`, depth first in sorted order,
        one directory listing held at a time (a tree of 200,000 files costs no memory per
        file). Each directory is opened from its parent without following links, so a path
        swapped for a symlink during the build is an error, never a read outside the context.
        With `read_up_to`, files are opened before they are described (their metadata is the
        open descriptor's) and those of at most that many bytes come with their bytes, so a
        layer writer need not open them again. `note=False` walks again without adding to
        `excluded` (a layer being written)."""
        pruning = self.ignore is None or not self.ignore.has_exclusions
        top = f"{self.root}/{resolved}" if resolved != "." else str(self.root)
        prefix = "" if resolved == "." else f"{resolved}/"  # of a path in the context
        fd = _open_directory(self.root, prefix.rstrip("/"))
        # Each level: its descriptor, its path, its path below `resolved`, and what is left
        # of its sorted listing. Messages name a path as `resolved/relative`.
        try:
            stack = [(fd, top, "", _listing(fd, resolved))]
        except BaseException:
            os.close(fd)
            raise
        try:
            while stack:
                fd, directory, relative_dir, listing = stack[-1]
                item = next(listing, None)
                if item is None:
                    os.close(fd)
                    stack.pop()
                    continue
                name = item.name
                relative = f"{relative_dir}/{name}" if relative_dir else name
                path = f"{directory}/{name}"
                if self.ignore is not None and self.ignore.ignored(prefix + relative):
                    if note:
                        self.excluded.append(prefix + relative)
                    # Only a `!` rule can bring back something below an excluded directory.
                    if not pruning and item.is_dir(follow_symlinks=False):
                        stack.append(_level(fd, path, relative, shown=f"{resolved}/{relative}"))
                    continue
                if read_up_to and item.is_file(follow_symlinks=False):
                    yield _opened_file(
                        fd,
                        relative,
                        read_up_to=read_up_to,
                        path=path,
                        resolved=resolved,
                        beneath=self.root,
                    )
                    continue
                try:
                    info = item.stat(follow_symlinks=False)
                    link = os.readlink(name, dir_fd=fd) if stat.S_ISLNK(info.st_mode) else ""
                except OSError as error:
                    raise ContextError(
                        f"cannot read {resolved}/{relative}: {error.strerror}"
                    ) from None
                yield _describe(path, relative, info, beneath=self.root, linkname=link)
                if stat.S_ISDIR(info.st_mode):
                    stack.append(_level(fd, path, relative, shown=f"{resolved}/{relative}"))
        finally:
            for level in stack:
                os.close(level[0])


def _level(
    parent: int, path: str, relative: str, *, shown: str
) -> tuple[int, str, str, Iterator[os.DirEntry[str]]]:
    """A directory to walk next: opened from its parent without following a link."""
    fd = _open_directory(parent, posixpath.basename(path), shown=shown)
    try:
        return fd, path, relative, _listing(fd, shown)
    except BaseException:
        os.close(fd)
        raise


DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _open_directory(parent: int | Path, relative: str, *, shown: str = "") -> int:
    """A descriptor for directory `relative` below `parent` (a descriptor, or a path opened
    first), each component opened without following links."""
    fd = os.open(parent, DIRECTORY_FLAGS) if isinstance(parent, Path) else os.dup(parent)
    try:
        for part in relative.split("/") if relative else ():
            inner = os.open(part, DIRECTORY_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except OSError as error:
        os.close(fd)
        where = shown or relative
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ContextError(
                f"{where} was replaced by a symlink during the build; not read"
            ) from None
        raise ContextError(f"cannot read {where}: {error.strerror}") from None
    return fd


def _unreadable(error: OSError) -> None:
    """A directory of the context that cannot be listed is an error, as Docker's is: never
    copied as if it were empty."""
    raise ContextError(f"cannot read {error.filename}: {error.strerror}")


def _listing(fd: int, shown: str) -> Iterator[os.DirEntry[str]]:
    """A directory's entries, sorted by name. One that cannot be listed is an error, as
    Docker's is: never copied as if it were empty."""
    try:
        with os.scandir(fd) as listed:
            return iter(sorted(listed, key=_name))
    except OSError as error:
        raise ContextError(f"cannot read {shown}: {error.strerror}") from None


def _name(item: os.DirEntry[str]) -> str:
    return item.name


def _opened_file(
    directory: int,
    relative: str,
    *,
    read_up_to: int,
    path: str,
    resolved: str,
    beneath: Path,
) -> SourceFile:
    """A regular file, described from the descriptor opened for it (without following a
    link, so one swapped in is refused), with its bytes when it is at most `read_up_to`."""
    name = posixpath.basename(relative)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ContextError(
                f"{resolved}/{relative} was replaced by a symlink during the build; not read"
            ) from None
        raise ContextError(f"cannot read {resolved}/{relative}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        size = info.st_size
        if not stat.S_ISREG(info.st_mode) or size > read_up_to:
            return _describe(path, relative, info, beneath=beneath)
        data = os.read(fd, size + 1)  # one more than planned: a file that grew shows it
        while len(data) < size and (more := os.read(fd, size + 1 - len(data))):
            data += more
    except OSError as error:
        raise ContextError(f"cannot read {resolved}/{relative}: {error.strerror}") from None
    finally:
        os.close(fd)
    if len(data) != size:
        raise ContextError(f"{resolved}/{relative} changed while it was being read")
    return _describe(path, relative, info, beneath=beneath, data=data)


def _describe(
    path: str,
    relative: str,
    info: os.stat_result,
    *,
    beneath: Path,
    data: bytes | None = None,
    linkname: str | None = None,
) -> SourceFile:
    mode = stat.S_IMODE(info.st_mode)
    mtime = int(info.st_mtime)
    if stat.S_ISREG(info.st_mode):
        group = f"inode:{info.st_dev}:{info.st_ino}" if info.st_nlink > 1 else ""
        return SourceFile(
            relative,
            path,
            "file",
            mode,
            info.st_size,
            mtime,
            link_group=group,
            beneath=beneath,
            identity=(info.st_dev, info.st_ino),
            data=data,
        )
    if stat.S_ISDIR(info.st_mode):
        return SourceFile(relative, path, "dir", mode, 0, mtime)
    if stat.S_ISLNK(info.st_mode):
        link = os.readlink(path) if linkname is None else linkname
        return SourceFile(relative, path, "symlink", mode, 0, mtime, link)
    raise ContextError(f"unsupported file type (socket, FIFO or device) in build context: {path}")
