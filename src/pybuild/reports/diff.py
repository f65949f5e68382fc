"""`pybuild diff A B`: how two images differ, for the person asking why a digest changed.

Each image is read from an archive or layout (oci/archive.py); every layer's tar is read once,
and each regular file's bytes are hashed, so a file whose size and time stayed but whose
content changed still shows. The document lists the config fields that differ (JSON paths, as
`explain` shows changes), the history entries that differ, and for each layer position whose
diff_id differs the files added, removed and changed there (with what changed about them), then
the same for the whole file system. container-diff, which did this, is archived.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PybuildError
from ..oci.archive import READ_FAILURES, ArchiveError, ImageArchive, unreadable
from ..oci.compression import decompressed
from ..oci.layer import OPAQUE, WHITEOUT, member_path
from ..oci.platform import Platform

SCHEMA_VERSION = 1
KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir"}
KINDS |= {tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink"}
FIELDS = ("type", "mode", "uid", "gid", "size", "mtime", "link", "content")


class DiffError(PybuildError):
    """An image to compare cannot be read."""


@dataclass(frozen=True)
class FileFacts:
    """What decides a file's bytes in a layer: its header fields and a digest of its content."""

    type: str
    mode: str
    uid: int
    gid: int
    size: int
    mtime: int
    link: str | None
    content: str | None  # sha256 of a regular file's bytes


@dataclass(frozen=True)
class LayerFacts:
    diff_id: str | None
    created_by: str | None
    files: dict[str, FileFacts]  # "/path" -> facts; whiteouts have type "whiteout"


@dataclass(frozen=True)
class ImageFacts:
    name: str
    image_id: str
    config: dict[str, Any]  # the whole config JSON
    history: list[str]  # created_by of every history entry, empty layers included
    layers: list[LayerFacts]


def read_image_facts(where: str, platform: Platform | None = None) -> ImageFacts:
    """An archive or layout when `where` is a path that exists, else an image reference
    pulled from its registry (through the layer cache, as FROM pulls)."""
    path_like = where.startswith(("/", ".")) or where.endswith((".tar", ".tgz", ".tar.gz"))
    if Path(where).exists() or path_like:
        return read_facts(Path(where), platform)
    return read_reference(where, platform)


def read_reference(text: str, platform: Platform | None = None) -> ImageFacts:
    import tempfile

    from ..oci.blobstore import BlobStore, default_cache_path
    from ..oci.platform import host_platform
    from ..oci.registry import RegistryAccess, pull_image

    access = RegistryAccess()
    try:
        with tempfile.TemporaryDirectory(prefix="pybuild-diff-") as scratch:
            pulled = pull_image(
                text,
                platform or host_platform(),
                Path(scratch),
                access=access,
                store=BlobStore(default_cache_path()),
            )
            made_by, diff_ids = pulled.config.layer_history(), pulled.config.diff_ids
            layers = []
            for number, blob in enumerate(pulled.blobs):
                with open(blob, "rb") as handle:
                    files = _layer_files(decompressed(handle))
                layers.append(
                    LayerFacts(
                        diff_ids[number] if number < len(diff_ids) else None,
                        made_by[number] if number < len(made_by) else None,
                        files,
                    )
                )
    except READ_FAILURES as error:
        raise DiffError(unreadable(Path(text), error)) from None
    finally:
        access.close()
    config = json.loads(pulled.config_bytes)
    history = [str(item.get("created_by", "")) for item in config.get("history") or []]
    image_id = "sha256:" + hashlib.sha256(pulled.config_bytes).hexdigest()
    return ImageFacts(text, image_id, config, history, layers)


def read_facts(path: Path, platform: Platform | None = None) -> ImageFacts:
    """Everything diff compares, read from an image archive or layout directory."""
    try:
        with ImageArchive(path) as archive:
            found = archive.image(platform)
            made_by = found.config.layer_history()
            layers = []
            for number, name in enumerate(found.layer_names):
                with archive.open(name) as handle:
                    if handle is None:
                        raise DiffError(f"{path}: the archive names {name} but does not hold it")
                    files = _layer_files(decompressed(handle))
                diff_ids = found.config.diff_ids
                layers.append(
                    LayerFacts(
                        diff_ids[number] if number < len(diff_ids) else None,
                        made_by[number] if number < len(made_by) else None,
                        files,
                    )
                )
    except ArchiveError as error:
        raise DiffError(str(error)) from None
    except READ_FAILURES as error:
        raise DiffError(unreadable(path, error)) from None
    config = json.loads(found.config_bytes)
    history = [str(item.get("created_by", "")) for item in config.get("history") or []]
    return ImageFacts(str(path), found.image_id, config, history, layers)


def _layer_files(stream: Any) -> dict[str, FileFacts]:
    files: dict[str, FileFacts] = {}
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            path = member_path(member.name)
            if not path:
                continue
            parent, _, base = path.rpartition("/")
            if base == OPAQUE:
                files["/" + parent + "/"] = FileFacts("opaque", "", 0, 0, 0, 0, None, None)
                continue
            if base.startswith(WHITEOUT):
                gone = (parent + "/" if parent else "") + base[len(WHITEOUT) :]
                files["/" + gone] = FileFacts("whiteout", "", 0, 0, 0, 0, None, None)
                continue
            content = None
            if member.isreg():
                digest, reader = hashlib.sha256(), tar.extractfile(member)
                while reader is not None and (piece := reader.read(1 << 20)):
                    digest.update(piece)
                content = "sha256:" + digest.hexdigest()
            files["/" + path] = FileFacts(
                KINDS.get(member.type, "other"),
                f"{member.mode & 0o7777:04o}",
                member.uid,
                member.gid,
                member.size if member.isreg() else 0,
                int(member.mtime),
                member.linkname or None,
                content,
            )
    return files


def config_changes(
    before: dict[str, Any], after: dict[str, Any], prefix: str = "config"
) -> list[dict]:
    """JSON paths whose value changed; maps (Labels, ExposedPorts, Volumes) key by key."""
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        path = f"{prefix}.{key}" if prefix else key
        if (isinstance(old, dict) and old) or (isinstance(new, dict) and new):
            changes += config_changes(old or {}, new or {}, path)
        else:
            changes.append({"path": path, "before": old, "after": new})
    return changes


def file_changes(before: dict[str, FileFacts], after: dict[str, FileFacts]) -> dict[str, list]:
    """Files only in `after` (added), only in `before` (removed), and in both but different
    (changed, with the fields that differ: content, size, mode, ...)."""
    changed = []
    for path in sorted(set(before) & set(after)):
        old, new = before[path], after[path]
        fields = [name for name in FIELDS if getattr(old, name) != getattr(new, name)]
        if fields:
            changed.append({"path": path, "fields": fields, **_field_values(old, new, fields)})
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": changed,
    }


def _field_values(old: FileFacts, new: FileFacts, fields: list[str]) -> dict[str, Any]:
    return {
        "before": {name: getattr(old, name) for name in fields},
        "after": {name: getattr(new, name) for name in fields},
    }


def union(layers: list[LayerFacts]) -> dict[str, FileFacts]:
    """The file system the layers make, as a runtime applies them: a layer's whiteouts and
    opaque directories hide what lower layers hold (not what the layer itself adds), and an
    entry that is not a directory replaces a directory of lower layers with all below it."""
    files: dict[str, FileFacts] = {}
    for layer in layers:
        for path, facts in layer.files.items():
            if facts.type == "whiteout":
                _remove(files, path)
            elif facts.type == "opaque":
                _remove(files, path.rstrip("/"), keep_self=True)
        for path, facts in layer.files.items():
            if facts.type in ("whiteout", "opaque"):
                continue
            lower = files.get(path)
            if lower is not None and lower.type == "dir" and facts.type != "dir":
                _remove(files, path, keep_self=True)
            files[path] = facts
    return files


def _remove(files: dict[str, FileFacts], path: str, *, keep_self: bool = False) -> None:
    for name in [name for name in files if name.startswith(path + "/")]:
        del files[name]
    if not keep_self:
        files.pop(path, None)


def diff_images(first: ImageFacts, second: ImageFacts) -> dict[str, Any]:
    """The diff document (schema version 1)."""
    layers = []
    for index in range(max(len(first.layers), len(second.layers))):
        old = first.layers[index] if index < len(first.layers) else None
        new = second.layers[index] if index < len(second.layers) else None
        if old is not None and new is not None and old.diff_id == new.diff_id:
            continue
        layers.append(
            {
                "number": index + 1,
                "before": None
                if old is None
                else {"diff_id": old.diff_id, "created_by": old.created_by},
                "after": None
                if new is None
                else {"diff_id": new.diff_id, "created_by": new.created_by},
                **file_changes(old.files if old else {}, new.files if new else {}),
            }
        )
    history = [
        {"number": index + 1, "before": old, "after": new}
        for index, (old, new) in enumerate(_padded(first.history, second.history))
        if old != new
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "a": {"image": first.name, "image_id": first.image_id},
        "b": {"image": second.name, "image_id": second.image_id},
        "identical": first.image_id == second.image_id,
        # (history and rootfs.diff_ids have their own sections below)
        "config": config_changes(_settings(first.config), _settings(second.config), prefix=""),
        "history": history,
        "layers": layers,
        "filesystem": file_changes(union(first.layers), union(second.layers)),
    }


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in ("history", "rootfs")}


def _padded(first: list[str], second: list[str]) -> list[tuple[str | None, str | None]]:
    size = max(len(first), len(second))
    return [
        (first[i] if i < len(first) else None, second[i] if i < len(second) else None)
        for i in range(size)
    ]


def render_text(document: dict[str, Any]) -> str:
    """The diff for a terminal: what differs, A's value before B's."""
    a, b = document["a"], document["b"]
    lines = [f"A {a['image']}  {a['image_id']}", f"B {b['image']}  {b['image_id']}"]
    if document["identical"]:
        return "\n".join([*lines, "the images are identical (same config, same layers)"]) + "\n"
    if document["config"]:
        lines.append("config:")
        lines += [
            f"  {change['path']}: {_shown(change['before'])} -> {_shown(change['after'])}"
            for change in document["config"]
        ]
    if document["history"]:
        lines.append("history:")
        for item in document["history"]:
            lines.append(f"  #{item['number']} A: {item['before'] or '(none)'}")
            lines.append(f"  #{item['number']} B: {item['after'] or '(none)'}")
    for layer in document["layers"]:
        before, after = layer["before"] or {}, layer["after"] or {}
        made_by = after.get("created_by") or before.get("created_by") or ""
        lines.append(f"layer {layer['number']} ({made_by.strip()}):")
        lines.append(f"  diff_id {before.get('diff_id')} -> {after.get('diff_id')}")
        lines += _file_lines(layer, "  ")
    lines.append("files (the whole file system):")
    lines += _file_lines(document["filesystem"], "  ") or ["  (no file differs)"]
    return "\n".join(lines) + "\n"


def _file_lines(changes: dict[str, Any], indent: str) -> list[str]:
    lines = [f"{indent}added    {path}" for path in changes["added"]]
    lines += [f"{indent}removed  {path}" for path in changes["removed"]]
    for item in changes["changed"]:
        what = ", ".join(
            f"{name} {_shown(item['before'][name])} -> {_shown(item['after'][name])}"
            if name != "content"
            else "content"
            for name in item["fields"]
        )
        lines.append(f"{indent}changed  {item['path']} ({what})")
    return lines


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, int) else str(value)
