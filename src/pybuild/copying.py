"""COPY/ADD: which context files go where, with Docker's destination rules.

- Several sources (after glob expansion) need a destination that ends in `/`.
- A file goes to DEST/NAME when DEST ends in `/` or is a directory in the image, else to DEST.
- A directory's contents (not the directory) go into DEST; DEST itself is created 0755.
- Files keep their permission bits; owners are root unless --chown; symlinks inside a copied
  directory stay symlinks; a source that is itself a symlink is followed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .context import SourceFile
from .errors import ContextError, InstructionError
from .filesystem import ImageFiles, image_path
from .instructions import Word
from .layer import LayerEntry
from .timestamps import Timestamps


@dataclass(frozen=True)
class Owner:
    uid: int = 0
    gid: int = 0


ROOT = Owner()


def parse_chown(value: str) -> Owner:
    """Numeric `UID[:GID]`; a lone UID means the same GID, as Docker does."""
    user, sep, group = value.partition(":")
    if not user.isdigit() or (sep and not group.isdigit()):
        raise InstructionError(
            f"--chown={value}: only numeric UID[:GID] is supported for FROM scratch images "
            "(there is no /etc/passwd to look names up in)"
        )
    uid = int(user)
    return Owner(uid, int(group) if sep else uid)


@dataclass(frozen=True)
class ResolvedSource:
    """One COPY source after glob expansion and symlink resolution, with what it holds."""

    word: Word  # the source as written (expanded), for messages and positions
    path: str  # the context path it matched (its name gives the destination file name)
    resolved: str  # that path with its symlinks followed inside the context
    files: tuple[SourceFile, ...]  # the source itself, then everything below it

    @property
    def top(self) -> SourceFile:
        return self.files[0]


class SourceTree(Protocol):
    """Where COPY reads from: the build context, or an earlier stage's files (--from)."""

    def match(self, source: str) -> list[str]: ...

    def stat_source(self, path: str, source: str) -> tuple[str, Any]: ...

    def walk(self, resolved: str) -> Iterator[SourceFile]: ...


def resolve_sources(context: SourceTree, sources: list[Word]) -> list[ResolvedSource]:
    """Expand globs and follow symlinks once; errors point at the source that caused them."""
    resolved_sources = []
    for source in sources:
        try:
            for path in context.match(source.text):
                resolved, _ = context.stat_source(path, source.text)
                files = tuple(context.walk(resolved))
                resolved_sources.append(ResolvedSource(source, path, resolved, files))
        except ContextError as error:
            raise error.at(source.location)
    if not resolved_sources:
        names = " ".join(source.text for source in sources)
        raise ContextError(f"no source files were specified: {names} matches nothing",
                           sources[0].location)
    return resolved_sources


def plan_copy(
    files: ImageFiles,
    sources: list[ResolvedSource],
    dest: Word,
    workdir: str,
    owner: Owner | None,
    timestamps: Timestamps,
) -> dict[str, LayerEntry]:
    """The entries one COPY adds, parents included. `owner` None keeps each file's owner (root
    for context files); directories COPY creates then belong to root. `dest` is expanded; a relative `dest` is
    under `workdir`. Only a trailing `/` marks a directory destination as written (the classic
    builder refuses `COPY a b .`)."""
    as_directory = dest.text.endswith("/")
    if len(sources) > 1 and not as_directory:
        raise InstructionError(
            "When using COPY with more than one source file, the destination must be a "
            "directory and end with a /",
            dest.location,
        )
    target = image_path(posixpath.join(workdir, dest.text))
    into_directory = as_directory or files.is_dir(target)
    created = owner or ROOT
    entries: dict[str, LayerEntry] = {}
    for source in sources:
        if source.top.kind == "dir":
            if target:
                mtime = timestamps.file_mtime(None)
                entries[target] = files.directory(target, created.uid, created.gid, mtime)
            for item in source.files[1:]:
                name = posixpath.join(target, item.relative)
                origin = f"{source.resolved}/{item.relative}"
                entries[name] = _entry(name, item, owner, timestamps, origin)
        else:
            name = posixpath.join(target, posixpath.basename(source.path)) if into_directory else target
            if not name:
                raise InstructionError(f"cannot copy file {source.word.text} onto the root directory")
            entries[name] = _entry(name, source.top, owner, timestamps, source.resolved)
    return files.with_parents(entries, created.uid, created.gid, timestamps.file_mtime(None))


def _entry(path: str, item: SourceFile, owner: Owner | None, timestamps: Timestamps,
           origin: str) -> LayerEntry:
    return LayerEntry(
        path=path,
        kind=item.kind,
        mode=item.mode,
        uid=item.uid if owner is None else owner.uid,
        gid=item.gid if owner is None else owner.gid,
        size=item.size,
        mtime=timestamps.file_mtime(item.mtime),
        linkname=item.linkname,
        source=item.path if item.kind == "file" else None,
        origin=origin,
    )
