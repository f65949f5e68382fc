"""The union of layers: what a container of the image sees. The one place that stacks layers,
used for a base image's files (FROM, COPY --from, --chown names), the bundle's rootfs, and the
file systems `inspect` and `explain` show.

Rules (OCI image spec, "Applying changesets", as Docker applies them):
- a whiteout `.wh.NAME` deletes NAME, and all below it, from the layers beneath;
- an opaque marker `DIR/.wh..wh..opq` hides everything the layers beneath put in DIR;
- neither touches what its own layer adds, wherever the marker stands in the tar;
- a file, link or directory replaces what was at its path; a non-directory over a directory
  removes the directory's contents too, directories merge;
- a hard link shares the bytes of the file it names, in its own layer or one beneath.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import replace

from .layer import LayerEntry, path_key


def _below(path: str, candidate: str) -> bool:
    """Whether `candidate` lies inside directory `path` ('' is the root)."""
    return candidate.startswith(path + "/") if path else candidate != ""


class RootFS:
    """Path -> entry, for everything the layers so far leave visible."""

    def __init__(self, entries: dict[str, LayerEntry] | None = None):
        self.entries: dict[str, LayerEntry] = dict(entries or {})

    def copy(self) -> RootFS:
        return RootFS(self.entries)

    def apply(self, layer: Iterable[LayerEntry]) -> None:
        """Put one layer's entries on top."""
        added: set[str] = set()

        def delete(path: str, itself: bool) -> None:
            doomed = [
                known
                for known in self.entries
                if known not in added and ((itself and known == path) or _below(path, known))
            ]
            for known in doomed:
                del self.entries[known]

        for entry in layer:
            if entry.kind == "opaque":
                delete(entry.path, itself=False)
                continue
            if entry.kind == "whiteout":
                delete(entry.path, itself=True)
                continue
            if entry.kind == "hardlink":
                linked = self._linked(entry)
                if linked is None:
                    continue
                entry = linked
            existing = self.entries.get(entry.path)
            if existing is not None and existing.kind == "dir" and entry.kind != "dir":
                delete(entry.path, itself=False)
            self.entries[entry.path] = entry
            added.add(entry.path)

    def _linked(self, link: LayerEntry) -> LayerEntry | None:
        """A hard link as a file sharing its target's bytes and link group (None when the
        target is not a file: a broken link is left out, as before)."""
        target = self.entries.get(link.linkname)
        if target is None or target.kind != "file":
            return None
        group = target.link_group or f"rootfs:{target.path}"
        if not target.link_group:
            self.entries[target.path] = replace(target, link_group=group)
        return replace(
            target,
            path=link.path,
            mode=link.mode,
            uid=link.uid,
            gid=link.gid,
            mtime=link.mtime,
            origin=link.origin,
            link_group=group,
        )

    def files(self) -> Iterator[LayerEntry]:
        """Every entry, sorted so that a directory comes right before what it holds."""
        for path in sorted(self.entries, key=path_key):
            yield self.entries[path]

    def parent_directories(self, path: str) -> Iterator[str]:
        """The directories above `path`, nearest last ('a', 'a/b' for 'a/b/c')."""
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            yield posixpath.join(*parts[:depth])


def union(layers: Iterable[Iterable[LayerEntry]]) -> RootFS:
    """The file system of layers applied in order, lowest first."""
    rootfs = RootFS()
    for layer in layers:
        rootfs.apply(layer)
    return rootfs
