"""What a stage's file system holds so far, as metadata only (the union of its layers,
oci/rootfs.py), seen as a source tree for `COPY --from`; and the directory rules that COPY and
WORKDIR share: missing parents are created 0755 (owned like the copied files), existing ones go
into a new layer unchanged."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator

from ..errors import ContextError, InstructionError
from ..oci.layer import LayerEntry, path_key
from ..oci.rootfs import RootFS, follow_symlinks
from .context import GLOB_CHARS, SourceFile, glob_match

NEW_DIRECTORY_MODE = 0o755


def image_path(absolute: str) -> str:
    """'/a/b/' -> 'a/b'; '/' -> '' (the root, which always exists)."""
    return posixpath.normpath("/" + absolute).lstrip("/")


class ImageFiles:
    """A stage's files (the union of its layers) as a source tree for `COPY --from`, with the
    same match/stat_source/walk as the build context."""

    def __init__(self, name: str = "stage", rootfs: RootFS | None = None) -> None:
        self.rootfs = rootfs if rootfs is not None else RootFS()  # shared, not copied
        self.name = name

    @property
    def entries(self) -> dict[str, LayerEntry]:
        return self.rootfs.entries

    def read_text(self, path: str) -> str | None:
        """A small file of the image (like /etc/passwd), or None when there is none."""
        entry = self.entries.get(path)
        if entry is None or entry.kind != "file" or (entry.source is None and entry.data is None):
            return None
        return entry.read().decode("utf-8", errors="replace")

    def copy(self, name: str) -> ImageFiles:
        return ImageFiles(name, self.rootfs.copy())

    def match(self, source: str) -> list[str]:
        path = image_path(source)
        if not GLOB_CHARS.search(path):
            return [path]
        return [p for p in sorted(self.entries, key=path_key) if glob_match(path, p)]

    def _read_link(self, candidate: str) -> str | None:
        entry = self.entries.get(candidate)
        return entry.linkname if entry is not None and entry.kind == "symlink" else None

    def resolve(self, path: str) -> str:
        """`path` with every symlink in it followed inside the image: an absolute target starts
        again at the image root, and `..` never climbs above it (as Docker and BuildKit write
        through `/link/` to where the link points, a dangling one included)."""
        return follow_symlinks(path, self._read_link)

    def stat_source(self, path: str, source: str) -> tuple[str, LayerEntry | None]:
        """Follow symlinks (absolute targets mean the image root) and find the entry."""
        resolved = self.resolve(path)
        if not self.exists(resolved):
            raise ContextError(f"file not found in {self.name}: {source}")
        return resolved, self.entries.get(resolved)

    def walk(self, resolved: str) -> Iterator[SourceFile]:
        top = self.entries.get(resolved)
        yield _source_file(top, "") if top else SourceFile("", None, "dir", 0o755, 0, 0)
        if top is not None and top.kind != "dir":
            return
        prefix = f"{resolved}/" if resolved else ""
        below = [p for p in self.entries if p.startswith(prefix) and p != resolved]
        for path in sorted(below, key=path_key):
            yield _source_file(self.entries[path], path[len(prefix) :])

    def is_dir(self, path: str) -> bool:
        return path == "" or (path in self.entries and self.entries[path].kind == "dir")

    def exists(self, path: str) -> bool:
        return path == "" or path in self.entries

    def add(self, entries: Iterable[LayerEntry]) -> None:
        """A new layer's entries go on top, when they are next looked at (`entries` must be
        a layer's, iterable again then)."""
        self.rootfs.later(entries)

    def directory(self, path: str, uid: int, gid: int, *, mtime: int) -> LayerEntry:
        """The entry for directory `path` in a new layer: as it is, or new. A file or symlink
        already there is an error, as it is for Docker ("Cannot mkdir: ... is not a directory")."""
        existing = self.entries.get(path)
        if existing is not None and existing.kind == "dir":
            return existing
        if existing is not None:
            raise InstructionError(
                f"cannot make directory /{path}: it is a {existing.kind} in the image"
            )
        return LayerEntry(path, "dir", NEW_DIRECTORY_MODE, uid, gid, mtime=mtime)

    def with_parents(
        self, entries: dict[str, LayerEntry], uid: int, gid: int, *, mtime: int
    ) -> dict[str, LayerEntry]:
        """`entries` plus every parent directory they need, so the layer extracts on its own."""
        result = dict(entries)
        for path in entries:
            parent = posixpath.dirname(path)
            while parent and parent not in result:
                result[parent] = self.directory(parent, uid, gid, mtime=mtime)
                parent = posixpath.dirname(parent)
        return result


def _source_file(entry: LayerEntry, relative: str) -> SourceFile:
    return SourceFile(
        relative,
        entry.source,
        entry.kind,
        entry.mode,
        entry.size,
        entry.mtime,
        entry.linkname,
        entry.uid,
        entry.gid,
        entry.link_group,
        entry.data,
        entry.offset,
    )
