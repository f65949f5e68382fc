"""`pybuild inspect`: what is inside an image archive, without a daemon — like `docker history`
and `dive`. Reads docker-archive (manifest.json, as `docker save` writes it, old and new),
OCI archives and OCI layout directories; layers may be uncompressed, gzip or zstd (judged by
content). Each layer is streamed, never held whole."""

from __future__ import annotations

import json
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import PybuildError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


class InspectError(PybuildError):
    """The archive cannot be read as an image."""


@dataclass
class LayerView:
    number: int  # 1-based
    blob: str  # path of the blob inside the archive
    diff_id: str | None
    size: int  # bytes as stored
    created_by: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # whiteouts: paths this layer removes
    opaque: list[str] = field(default_factory=list)  # directories whose lower contents it hides
    overrides: list[str] = field(default_factory=list)  # files it replaces from lower layers


class _Source:
    """Files of an archive (tar) or a layout directory, by name."""

    def __init__(self, path: Path):
        self.path = path
        self.tar = None if path.is_dir() else tarfile.open(path)

    def read(self, name: str) -> bytes | None:
        with self.open(name) as handle:
            return handle.read() if handle is not None else None

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes] | None]:
        name = posixpath.normpath(name)
        if self.tar is None:
            candidate = self.path / name
            if not candidate.is_file():
                yield None
                return
            with open(candidate, "rb") as handle:
                yield handle
            return
        try:
            member = self.tar.extractfile(name)
        except KeyError:
            member = None
        yield member

    def size(self, name: str) -> int:
        if self.tar is None:
            return (self.path / name).stat().st_size
        return self.tar.getmember(posixpath.normpath(name)).size

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()


def _locate(source: _Source) -> tuple[str, list[str], list[str]]:
    """Config path, layer paths and tags, from manifest.json or else index.json."""
    manifest = source.read("manifest.json")
    if manifest is not None:
        entries = json.loads(manifest)
        if not entries:
            raise InspectError("manifest.json lists no image")
        entry = entries[0]
        return entry["Config"], list(entry.get("Layers") or []), list(entry.get("RepoTags") or [])
    index = source.read("index.json")
    if index is None:
        raise InspectError("neither manifest.json nor index.json: not an image archive")
    descriptors = json.loads(index).get("manifests") or []
    if not descriptors:
        raise InspectError("index.json lists no manifest")
    tags = [d.get("annotations", {}).get("org.opencontainers.image.ref.name") for d in descriptors]

    def blob(digest: str) -> str:
        return "blobs/" + digest.replace(":", "/")

    document = json.loads(source.read(blob(descriptors[0]["digest"])) or b"{}")
    if "manifests" in document:  # an index of platforms: take the first manifest
        document = json.loads(source.read(blob(document["manifests"][0]["digest"])) or b"{}")
    return (blob(document["config"]["digest"]), [blob(layer["digest"]) for layer in document["layers"]],
            [tag for tag in tags if tag])


class _Prefixed:
    """A stream whose first bytes were already read (to sniff the compression)."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0:
                data, self.head = self.head + self.rest.read(), b""
                return data
            data, self.head = self.head[:size], self.head[size:]
            return data + (self.rest.read(size - len(data)) if len(data) < size else b"")
        return self.rest.read(size)


def _members(handle: IO[bytes]) -> Iterator[tarfile.TarInfo]:
    """A layer's members; plain tar, gzip, bzip2 and xz via tarfile, zstd via zstandard."""
    head = handle.read(4)
    stream: Any = _Prefixed(head, handle)
    if head == b"\x28\xb5\x2f\xfd":
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(stream)
    with tarfile.open(fileobj=stream, mode="r|*") as layer:
        yield from layer


def read_image(path: Path) -> dict[str, Any]:
    """The inspect document: image facts, config, history, and every layer's files."""
    path = Path(path)
    if not path.exists():
        raise InspectError(f"{path} does not exist")
    try:
        source = _Source(path)
    except tarfile.TarError as error:
        raise InspectError(f"{path} is not a tar archive or an OCI layout directory: {error}") from None
    try:
        config_path, layer_paths, tags = _locate(source)
        config = json.loads(source.read(config_path) or b"{}")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        made_by = [item.get("created_by") for item in config.get("history") or [] if not item.get("empty_layer")]
        layers: list[LayerView] = []
        seen: dict[str, int] = {}  # path -> the layer that last wrote it
        for number, blob_path in enumerate(layer_paths, start=1):
            view = LayerView(number, blob_path, diff_ids[number - 1] if number <= len(diff_ids) else None,
                             source.size(blob_path), made_by[number - 1] if number <= len(made_by) else None)
            with source.open(blob_path) as handle:
                if handle is None:
                    raise InspectError(f"the archive names {blob_path} but does not hold it")
                for member in _members(handle):
                    _record(view, member, seen)
            for item in view.files:
                seen[item["path"]] = number
            layers.append(view)
    except (tarfile.TarError, ValueError, KeyError, EOFError) as error:
        raise InspectError(f"{path}: cannot read the image: {error}") from None
    finally:
        source.close()
    return {
        "archive": str(path),
        "tags": tags,
        "image_id": "sha256:" + posixpath.basename(config_path).removesuffix(".json")
        if config_path.startswith("blobs/") or config_path.endswith(".json") else None,
        "os": config.get("os"), "architecture": config.get("architecture"),
        "created": config.get("created"),
        "config": config.get("config") or {},
        "history": config.get("history") or [],
        "layers": [vars(layer) for layer in layers],
    }


def _record(view: LayerView, member: tarfile.TarInfo, seen: dict[str, int]) -> None:
    name = "/" + posixpath.normpath(member.name).lstrip("./").lstrip("/") if member.name not in (".", "./") else "/"
    base = posixpath.basename(name)
    if base == OPAQUE:
        view.opaque.append(posixpath.dirname(name))
        return
    if base.startswith(WHITEOUT):
        view.deleted.append(posixpath.join(posixpath.dirname(name), base[len(WHITEOUT):]))
        return
    kind = ("dir" if member.isdir() else "symlink" if member.issym() else "hardlink" if member.islnk()
            else "file" if member.isreg() else "other")
    view.files.append({"path": name, "type": kind, "mode": f"{member.mode:04o}", "uid": member.uid,
                       "gid": member.gid, "size": member.size if kind == "file" else 0,
                       "link": member.linkname or None})
    if kind != "dir" and name in seen:
        view.overrides.append(name)


def render_text(document: dict[str, Any], only_layer: int | None = None) -> str:
    lines = [f"{document['archive']}: {document.get('os')}/{document.get('architecture')}, "
             f"{len(document['layers'])} layers" + (f", tags {', '.join(document['tags'])}" if document["tags"] else "")]
    if only_layer is None:
        lines.append("config:")
        for key, value in document["config"].items():
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
        lines.append("history (oldest first):")
        for item in document["history"]:
            marker = "        " if item.get("empty_layer") else "[layer] "
            lines.append(f"  {marker}{item.get('created_by', '')}")
    for layer in document["layers"]:
        if only_layer is not None and layer["number"] != only_layer:
            continue
        lines.append(f"layer {layer['number']}: {layer['size']} bytes stored, diff_id {layer['diff_id']}")
        if layer["created_by"]:
            lines.append(f"  made by: {layer['created_by']}")
        for item in layer["files"]:
            mode = {"dir": "d", "symlink": "l", "hardlink": "h"}.get(item["type"], "-") + stat.filemode(int(item["mode"], 8))[1:]
            size = f"{item['size']:>9}" if item["type"] == "file" else " " * 9
            link = f" -> {item['link']}" if item["link"] else ""
            note = "  (overrides a lower layer)" if item["path"] in layer["overrides"] else ""
            lines.append(f"  {mode} {item['uid']}:{item['gid']} {size} {item['path']}{link}{note}")
        for path in layer["deleted"]:
            lines.append(f"  deleted   {path}")
        for path in layer["opaque"]:
            lines.append(f"  replaced  {path}/ (opaque: lower contents hidden)")
    if only_layer is None and document["layers"]:
        last = document["layers"][-1]
        lines.append(f"the last layer overrides {len(last['overrides'])} file(s)"
                     + (": " + ", ".join(last["overrides"]) if last["overrides"] else ""))
    if only_layer is not None and not any(l["number"] == only_layer for l in document["layers"]):
        raise InspectError(f"--layer {only_layer}: the image has layers 1 to {len(document['layers'])}")
    return "\n".join(lines) + "\n"
