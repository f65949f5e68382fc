"""COPY/ADD: which context files go where, with Docker's destination rules.

- Several sources (after glob expansion) need a destination that ends in `/`.
- A file goes to DEST/NAME when DEST ends in `/` or is a directory in the image, else to DEST.
- A directory's contents (not the directory) go into DEST; DEST itself is created 0755.
- Files keep their permission bits; owners are root unless --chown; symlinks inside a copied
  directory stay symlinks; a source that is itself a symlink is followed.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from .context import BuildContext, SourceFile
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


def plan_copy(
    context: BuildContext,
    files: ImageFiles,
    sources: list[Word],
    dest: Word,
    workdir: str,
    owner: Owner,
    timestamps: Timestamps,
) -> dict[str, LayerEntry]:
    """The entries one COPY adds, parents included. `sources` and `dest` are expanded; a
    relative `dest` is under `workdir`. Only a trailing `/` marks a directory destination as
    written (the classic builder refuses `COPY a b .`)."""
    matched: list[tuple[Word, str]] = []
    for source in sources:
        try:
            matched.extend((source, path) for path in context.match(source.text))
        except ContextError as error:
            raise error.at(source.location)
    as_directory = dest.text.endswith("/")
    if len(matched) > 1 and not as_directory:
        raise InstructionError(
            "When using COPY with more than one source file, the destination must be a "
            "directory and end with a /",
            dest.location,
        )
    target = image_path(posixpath.join(workdir, dest.text))
    into_directory = as_directory or files.is_dir(target)
    entries: dict[str, LayerEntry] = {}
    for source, path in matched:
        try:
            resolved, _ = context.stat_source(path, source.text)
            walked = list(context.walk(resolved))
        except ContextError as error:
            raise error.at(source.location)
        top = walked[0]
        if top.kind == "dir":
            if target:
                mtime = timestamps.file_mtime(None)
                entries[target] = files.directory(target, owner.uid, owner.gid, mtime)
            for item in walked[1:]:
                name = posixpath.join(target, item.relative)
                entries[name] = _entry(name, item, owner, timestamps, f"{resolved}/{item.relative}")
        else:
            name = posixpath.join(target, posixpath.basename(path)) if into_directory else target
            if not name:
                raise InstructionError(f"cannot copy file {source.text} onto the root directory")
            entries[name] = _entry(name, top, owner, timestamps, resolved)
    return files.with_parents(entries, owner.uid, owner.gid, timestamps.file_mtime(None))


def _entry(path: str, item: SourceFile, owner: Owner, timestamps: Timestamps, origin: str) -> LayerEntry:
    return LayerEntry(
        path=path,
        kind=item.kind,
        mode=item.mode,
        uid=owner.uid,
        gid=owner.gid,
        size=item.size,
        mtime=timestamps.file_mtime(item.mtime),
        linkname=item.linkname,
        source=item.path if item.kind == "file" else None,
        origin=origin,
    )
