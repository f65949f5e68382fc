"""The union of layers: what a container of the image sees. The one place that stacks layers,
used for a base image's files (FROM, COPY --from, --chown names), the bundle's rootfs, and the
file systems `inspect` and `explain` show.

Rules (OCI image spec, "Applying changesets", as Docker applies them):
- a whiteout `.wh.NAME` deletes NAME, and all below it, from the layers beneath;
- an opaque marker `DIR/.wh..wh..opq` hides everything the layers beneath put in DIR;
- neither touches what its own layer adds, wherever the marker stands in the tar;
- a file, link or directory replaces what was at its path; a non-directory over a directory
  removes the directory's contents too, directories merge;
- a hard link is the file it names (its bytes, mode and owner), in its own layer or one beneath;
- files are hard links of one another only within the layer that made them so: each layer's
  link groups are kept apart from every other layer's (a COPY of a file is a new file);
- an entry below a path that is not a directory is an error, as Docker's applier refuses it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from ..errors import ContextError
from .layer import InvalidLayer, LayerEntry, path_key


def _below(path: str, candidate: str) -> bool:
    """Whether `candidate` lies inside directory `path` ('' is the root)."""
    return candidate.startswith(path + "/") if path else candidate != ""


class RootFS:
    """Path -> entry, for everything the layers so far leave visible. Layers put on `later`
    are applied when the entries are first asked for: a stage's last COPY of 200,000 files
    that nothing reads back is never held as a dict of them."""

    def __init__(
        self,
        entries: dict[str, LayerEntry] | None = None,
        applied: int = 0,
        pending: list[Iterable[LayerEntry]] | None = None,
    ):
        self._entries: dict[str, LayerEntry] = dict(entries or {})
        self.applied = applied  # layers applied so far: names each layer's link groups
        self._pending = list(pending or [])

    @property
    def entries(self) -> dict[str, LayerEntry]:
        while self._pending:
            self._apply(self._pending.pop(0))
        return self._entries

    def copy(self) -> RootFS:
        return RootFS(self._entries, self.applied, self._pending)

    def later(self, layer: Iterable[LayerEntry]) -> None:
        """Put one layer's entries on top when they are next asked for (`layer` must give
        the same entries then: a built layer's, not a one-shot iterator)."""
        self._pending.append(layer)

    def apply(self, layer: Iterable[LayerEntry]) -> None:
        """Put one layer's entries on top."""
        self.later(layer)
        self.entries  # noqa: B018 (applies what is pending, in order)

    def _apply(self, layer: Iterable[LayerEntry]) -> None:
        self.applied += 1
        added: set[str] = set()

        def delete(path: str, itself: bool) -> None:
            doomed = [
                known
                for known in self._entries
                if known not in added and ((itself and known == path) or _below(path, known))
            ]
            for known in doomed:
                del self._entries[known]

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
            elif entry.link_group:
                entry = replace(entry, link_group=f"{self.applied}|{entry.link_group}")
            self._check_parents(entry)
            existing = self._entries.get(entry.path)
            if existing is not None and existing.kind == "dir" and entry.kind != "dir":
                delete(entry.path, itself=False)
            self._entries[entry.path] = entry
            added.add(entry.path)

    def _linked(self, link: LayerEntry) -> LayerEntry | None:
        """A hard link as another name of its target: the same bytes, mode, owner and link
        group (None when the target is not a file: a broken link is left out)."""
        target = self._entries.get(link.linkname)
        if target is None or target.kind != "file":
            return None
        group = target.link_group or f"{self.applied}|{target.path}"
        if not target.link_group:
            self._entries[target.path] = replace(target, link_group=group)
        return replace(target, path=link.path, origin=link.origin, link_group=group)

    def _check_parents(self, entry: LayerEntry) -> None:
        parent = posixpath.dirname(entry.path)
        while parent:
            found = self._entries.get(parent)
            if found is not None:
                if found.kind != "dir":
                    raise InvalidLayer(
                        f"{entry.origin or entry.path}: /{entry.path} lies below "
                        f"/{parent}, which is a {found.kind}, not a directory"
                    )
                return
            parent = posixpath.dirname(parent)

    def files(self) -> Iterator[LayerEntry]:
        """Every entry, sorted so that a directory comes right before what it holds."""
        for path in sorted(self.entries, key=path_key):
            yield self.entries[path]


def union(layers: Iterable[Iterable[LayerEntry]]) -> RootFS:
    """The file system of layers applied in order, lowest first."""
    rootfs = RootFS()
    for layer in layers:
        rootfs.apply(layer)
    return rootfs


MAX_LINK_DEPTH = 255  # links followed in one path before it is refused as a loop


def follow_symlinks(
    path: str, read_link: Callable[[str], str | None], above_root: Callable[[], None] | None = None
) -> str:
    """Resolve every symlink in `path` with a root of its own: absolute targets start again at
    the root, and `..` at the root calls `above_root` (or stays at the root, as in a real file
    system, when that is None). `read_link(p)` gives the target of p, or None for no link."""
    done: list[str] = []
    pending = [part for part in path.split("/") if part not in ("", ".")]
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if done:
                done.pop()
            elif above_root is not None:
                above_root()
            continue
        target = read_link("/".join(done + [part]))
        if target is None:
            done.append(part)
            continue
        links += 1
        if links > MAX_LINK_DEPTH:
            raise ContextError(f"too many levels of symbolic links in {path}")
        if target.startswith("/"):
            done = []
        pending = [p for p in target.split("/") if p not in ("", ".")] + pending
    return "/".join(done)
