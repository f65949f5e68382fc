"""What the image's file system holds so far, as metadata only, and the directory rules that
COPY and WORKDIR share: missing parents are created 0755 (owned like the copied files), existing
ones go into a new layer unchanged."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from .errors import InstructionError
from .layer import LayerEntry

NEW_DIRECTORY_MODE = 0o755


def image_path(absolute: str) -> str:
    """'/a/b/' -> 'a/b'; '/' -> '' (the root, which always exists)."""
    return posixpath.normpath("/" + absolute).lstrip("/")


class ImageFiles:
    """Path -> entry for everything the layers so far put into the image."""

    def __init__(self) -> None:
        self.entries: dict[str, LayerEntry] = {}

    def is_dir(self, path: str) -> bool:
        return path == "" or (path in self.entries and self.entries[path].kind == "dir")

    def exists(self, path: str) -> bool:
        return path == "" or path in self.entries

    def add(self, entries: Iterable[LayerEntry]) -> None:
        for entry in entries:
            self.entries[entry.path] = entry

    def directory(self, path: str, uid: int, gid: int, mtime: int) -> LayerEntry:
        """The entry for directory `path` in a new layer: as it is, or new. A file or symlink
        already there is an error, as it is for Docker ("Cannot mkdir: ... is not a directory")."""
        existing = self.entries.get(path)
        if existing is not None and existing.kind == "dir":
            return existing
        if existing is not None:
            raise InstructionError(f"cannot make directory /{path}: it is a {existing.kind} in the image")
        return LayerEntry(path, "dir", NEW_DIRECTORY_MODE, uid, gid, mtime=mtime)

    def with_parents(
        self, entries: dict[str, LayerEntry], uid: int, gid: int, mtime: int
    ) -> dict[str, LayerEntry]:
        """`entries` plus every parent directory they need, so the layer extracts on its own."""
        result = dict(entries)
        for path in entries:
            parent = posixpath.dirname(path)
            while parent and parent not in result:
                result[parent] = self.directory(parent, uid, gid, mtime)
                parent = posixpath.dirname(parent)
        return result
