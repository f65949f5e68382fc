"""COPY/ADD: which context files go where, with Docker's destination rules.

- Several sources (after glob expansion) need a destination that ends in `/`.
- A file goes to DEST/NAME when DEST ends in `/` or is a directory in the image, else to DEST.
- A directory's contents (not the directory) go into DEST; DEST itself is created 0755.
- Files keep their permission bits; owners are root unless --chown; symlinks inside a copied
  directory stay symlinks; a source that is itself a symlink is followed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ..dockerfile.instructions import Word
from ..errors import ContextError, InstructionError, located
from ..oci.layer import EntryStream, LayerEntry
from .archives import archive_members
from .context import BuildContext, SourceFile
from .filesystem import ImageFiles, image_path
from .ignore import IgnoreRules
from .permissions import ROOT, Owner
from .timestamps import Timestamps


@dataclass(frozen=True)
class CopyOptions:
    """How COPY lays files out, from its flags."""

    owner: Owner | None = None  # None: context files root's, stage files keep their owners
    chmod: Callable[[int, bool], int] | None = None  # (mode, is_directory) -> mode
    exclude: IgnoreRules | None = None  # --exclude patterns, relative to each source
    parents: bool = False  # --parents: keep each source's path below the context (or /./)


@dataclass(frozen=True)
class ResolvedSource:
    """One COPY source after glob expansion and symlink resolution, with what it holds."""

    word: Word  # the source as written (expanded), for messages and positions
    path: str  # the context path it matched (its name gives the destination file name)
    resolved: str  # that path with its symlinks followed inside the context
    files: tuple[SourceFile, ...]  # the source itself, then everything below it
    kept: str = ""  # what --parents keeps of `path`: all of it, or what follows a `/./`
    archive: Path | None = None  # ADD: the source is a tar (uncompressed here) to extract
    # A directory of the build context: `files` holds only itself, what is below it is
    # walked when needed (BuildContext.below), never listed here.
    context: BuildContext | None = None

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
        pivot = ""
        if "/./" in source.text:  # BuildKit's --parents pivot; cleaning would erase it
            pivot = image_path(source.text.split("/./", 1)[0])
        with located(source.location):
            for path in context.match(source.text):
                resolved, _ = context.stat_source(path, source.text)
                kept = path[len(pivot) + 1 :] if pivot and path.startswith(pivot + "/") else path
                if isinstance(context, BuildContext):
                    top = next(context.walk(resolved))
                    lazy = context if top.kind == "dir" else None
                    resolved_sources.append(
                        ResolvedSource(source, path, resolved, (top,), kept, context=lazy)
                    )
                    continue
                files = tuple(context.walk(resolved))
                resolved_sources.append(ResolvedSource(source, path, resolved, files, kept))
    if not resolved_sources:
        names = " ".join(source.text for source in sources)
        raise ContextError(
            f"no source files were specified: {names} matches nothing", sources[0].location
        )
    return resolved_sources


def plan_copy(
    files: ImageFiles,
    sources: list[ResolvedSource],
    dest: Word,
    *,
    workdir: str,
    options: CopyOptions,
    timestamps: Timestamps,
) -> CopyPlan:
    """The entries one COPY adds, parents included. `dest` is expanded; a relative `dest` is
    under `workdir`. Only a trailing `/` marks a directory destination as written (the classic
    builder refuses `COPY a b .`). Directories COPY creates belong to the --chown owner, else
    to root."""
    as_directory = dest.text.endswith("/")
    if len(sources) > 1 and not as_directory:
        raise InstructionError(
            "When using COPY with more than one source file, the destination must be a "
            "directory and end with a /",
            dest.location,
        )
    target = image_path(posixpath.join(workdir, dest.text))
    # Through symlinks already in the image, inside its root: `/link/` is where the link
    # points; a last component that is a link to a directory is that directory.
    whole = files.resolve(target)
    if as_directory or files.is_dir(whole):
        target = whole
    elif target:
        target = posixpath.join(
            files.resolve(posixpath.dirname(target)), posixpath.basename(target)
        )
    into_directory = as_directory or files.is_dir(target) or options.parents
    created = options.owner or ROOT
    mtime = timestamps.file_mtime(None)
    entries: dict[str, LayerEntry] = {}
    streams: list[EntryStream] = []
    for source in sources:
        base = posixpath.join(target, source.kept) if options.parents else target
        if source.archive is not None:
            entries.update(
                _extracted(files, source, target, options=options, timestamps=timestamps)
            )
        elif source.top.kind == "dir":
            if base:
                directory = files.directory(base, created.uid, created.gid, mtime=mtime)
                entries[base] = (
                    _with_chmod(directory, options) if base not in files.entries else directory
                )
            tree = CopiedTree(source, base, options, timestamps)
            if _streamable(source, options) and len(sources) == 1:
                streams.append(tree)  # walked when the layer is written
                if source.context is not None and source.context.ignore is not None:
                    tree.note_excluded()
            else:  # another source may overwrite what it holds: listed, in order
                entries.update((entry.path, entry) for entry in tree.stream(note=True))
        else:
            if options.exclude is not None and options.exclude.ignored(source.path):
                continue
            if options.parents:
                name = base
            else:
                name = (
                    posixpath.join(target, posixpath.basename(source.path))
                    if into_directory
                    else target
                )
            if not name:
                raise InstructionError(
                    f"cannot copy file {source.word.text} onto the root directory"
                )
            entries[name] = _entry(
                name, source.top, options, timestamps=timestamps, origin=source.resolved
            )
    listed = files.with_parents(entries, created.uid, created.gid, mtime=mtime)
    return CopyPlan(listed, tuple(streams))


def _streamable(source: ResolvedSource, options: CopyOptions) -> bool:
    """Whether what lies below a copied directory can be walked when the layer is written
    instead of listed now: a context directory, with no `!` rule (a path brought back below
    an excluded directory needs that directory's entry, which with_parents adds to a list)."""
    rules = [source.context.ignore if source.context is not None else None, options.exclude]
    return source.context is not None and not any(r is not None and r.has_exclusions for r in rules)


@dataclass(frozen=True)
class CopyPlan:
    """What one COPY adds: entries listed (parents included) and, for a context directory,
    a stream of what lies below it (in layer order after them)."""

    entries: dict[str, LayerEntry]
    streams: tuple[EntryStream, ...] = ()


@dataclass(eq=False)
class CopiedTree:
    """What lies below a copied directory, laid under `base` with the COPY's options: walked
    from the source each time it is read (BuildContext.below for a context directory), so
    no object per file is held between reads. Compared and hashed by identity, like the
    walk it stands for (equal layers are told apart by their entries: layout.fingerprint)."""

    source: ResolvedSource
    base: str
    options: CopyOptions
    timestamps: Timestamps
    counted: tuple[int, int] | None = None  # files and bytes, once walked for them

    @property
    def totals(self) -> tuple[int, int]:
        """Files (not directories) and bytes, counted by a walk the first time."""
        if self.counted is None:
            self.counted = self._count(note=False)
        return self.counted

    def note_excluded(self) -> None:
        """Walk now, at the COPY: note what .dockerignore hides below it (for explain)."""
        self.counted = self._count(note=True)

    def _count(self, *, note: bool) -> tuple[int, int]:
        files = size = 0
        for item in self._items(read_up_to=0, note=note):
            if item.kind != "dir":
                files, size = files + 1, size + item.size
        return files, size

    def stream(self, *, read_up_to: int = 0, note: bool = False) -> Iterator[LayerEntry]:
        for item in self._items(read_up_to=read_up_to, note=note):
            name = f"{self.base}/{item.relative}" if self.base else item.relative
            origin = f"{self.source.resolved}/{item.relative}"
            yield _entry(name, item, self.options, timestamps=self.timestamps, origin=origin)

    def _items(self, *, read_up_to: int, note: bool) -> Iterator[SourceFile]:
        context, exclude = self.source.context, self.options.exclude
        items = (
            context.below(self.source.resolved, read_up_to=read_up_to, note=note)
            if context is not None
            else iter(self.source.files[1:])
        )
        for item in items:
            if exclude is None or not exclude.ignored(item.relative):
                yield item


def _extracted(
    files: ImageFiles,
    source: ResolvedSource,
    target: str,
    *,
    options: CopyOptions,
    timestamps: Timestamps,
) -> dict[str, LayerEntry]:
    """ADD of a tar: its members land below `target` with the archive's modes and owners
    (unless --chown), like `tar -x` over what is there."""
    assert source.archive is not None
    created = options.owner or ROOT
    entries: dict[str, LayerEntry] = {}
    if target:
        entries[target] = files.directory(
            target, created.uid, created.gid, mtime=timestamps.file_mtime(None)
        )
    for member in archive_members(source.archive, source.path):
        path = posixpath.join(target, member.path)
        owner = options.owner or Owner(member.uid, member.gid)
        entries[path] = LayerEntry(
            path=path,
            kind=member.kind,
            mode=member.mode,
            uid=owner.uid,
            gid=owner.gid,
            size=member.size,
            mtime=timestamps.file_mtime(member.mtime),
            linkname=member.linkname,
            source=source.archive if member.kind == "file" else None,
            offset=member.offset,
            origin=f"{source.path}:{member.path}",
            # Hard links share their target's offset; the archive's path keeps two archives
            # added by one ADD from looking like links of each other.
            link_group=f"tar:{source.archive}:{member.offset}" if member.kind == "file" else "",
        )
    return entries


def _with_chmod(entry: LayerEntry, options: CopyOptions) -> LayerEntry:
    if options.chmod is None or entry.kind == "symlink":
        return entry
    return replace(entry, mode=options.chmod(entry.mode, entry.kind == "dir"))


def _entry(
    path: str, item: SourceFile, options: CopyOptions, *, timestamps: Timestamps, origin: str
) -> LayerEntry:
    owner = options.owner
    entry = LayerEntry(
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
        link_group=item.link_group,
        data=item.data,
        offset=item.offset,
        beneath=item.beneath,
        identity=item.identity,
    )
    return _with_chmod(entry, options)
