"""`pybuild inspect`: what is inside an image archive, without a daemon — like `docker history`
and `dive`. Reads whatever oci/archive.py reads (docker-archive old and new, OCI archives and
layout directories; layers uncompressed, gzip or zstd, judged by content), streaming each layer.
Shows every layer's files, whiteouts as deletions and what it overrides, and the file system a
container sees: the union of the layers (oci/rootfs.py), the same view builds and bundles use."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PybuildError
from ..oci.archive import READ_FAILURES, ArchiveError, ImageArchive, unreadable
from ..oci.compression import decompressed
from ..oci.layer import stream_entries
from ..oci.model import json_error_place
from ..oci.platform import Platform
from ..oci.rootfs import RootFS
from .filesystem import entry_line, entry_row, file_list, filesystem_lines


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


def read_image(path: Path, platform: Platform | None = None) -> dict[str, Any]:
    """The inspect document: image facts, config, history, every layer's files, and the union;
    for an archive of several platforms, the index too, and the image of `platform` (else the
    one `docker load` would take: manifest.json's, or the first)."""
    path = Path(path)
    try:
        with ImageArchive(path) as archive:
            index = [
                {"platform": str(entry.platform), "digest": entry.digest}
                for entry in archive.platforms()
            ]
            found = archive.image(platform)
            attached = archive.attestations()
            config = found.config
            made_by = config.layer_history()
            rootfs = RootFS()
            layers = []
            for number, name in enumerate(found.layer_names, start=1):
                view = LayerView(
                    number,
                    name,
                    config.diff_ids[number - 1] if number <= len(config.diff_ids) else None,
                    archive.size(name),
                    made_by[number - 1] if number <= len(made_by) else None,
                )
                with archive.open(name) as handle:
                    if handle is None:
                        raise InspectError(f"the archive names {name} but does not hold it")
                    entries = list(stream_entries(decompressed(handle), str(path)))
                for entry in entries:
                    if entry.kind == "opaque":
                        view.opaque.append("/" + entry.path)
                    elif entry.kind == "whiteout":
                        view.deleted.append("/" + entry.path)
                    else:
                        view.files.append(entry_row(entry))
                        lower = rootfs.entries.get(entry.path)
                        if entry.kind != "dir" and lower is not None and lower.kind != "dir":
                            view.overrides.append("/" + entry.path)
                rootfs.apply(entries)
                layers.append(view)
    except ArchiveError as error:
        raise InspectError(str(error)) from None
    except READ_FAILURES as error:
        raise InspectError(unreadable(path, error)) from None
    return {
        "archive": str(path),
        "tags": list(found.tags),
        "image_id": found.image_id,
        "os": config.platform.os,
        "architecture": config.platform.architecture,
        "created": config.created or None,
        "config": config.run.to_json(),
        "history": [entry.to_json(config.created) for entry in config.history],
        "layers": [asdict(layer) for layer in layers],
        "filesystem": file_list(rootfs),
        "index": index,  # the platforms of an image index; empty for one image
        # statements attached to the images (SBOM, provenance); `shown`: about this image
        "attestations": [
            {
                "platform": item.platform,
                "predicate_type": item.predicate_type,
                "digest": item.digest,
                "size": item.size,
                "shown": item.image_id == found.image_id,
            }
            for item in attached
        ],
    }


KINDS = {
    "sbom": ("https://spdx.dev/Document", "https://cyclonedx.org/bom"),
    "provenance": ("https://slsa.dev/provenance/",),
}


def attached_predicate(path: Path, kind: str, platform: Platform | None = None) -> Any:
    """The predicate of the image's `kind` attestation (sbom or provenance): the SPDX or
    CycloneDX document, or the SLSA provenance, as `pybuild inspect --sbom` prints it."""
    try:
        with ImageArchive(Path(path)) as archive:
            image_id = archive.image(platform).image_id
            for item in archive.attestations():
                if item.image_id == image_id and item.predicate_type.startswith(KINDS[kind]):
                    statement = json.loads(archive.blob(item.digest))
                    if not isinstance(statement, dict) or "predicate" not in statement:
                        raise InspectError(
                            f"{path}: attestation {item.digest} is not an in-toto statement"
                        )
                    return statement["predicate"]
    except ArchiveError as error:
        raise InspectError(str(error)) from None
    except ValueError as error:
        place = json_error_place(error)
        raise InspectError(f"{path}: an attestation is not JSON{place}") from None
    raise InspectError(
        f"{path}: no {kind} attestation for this image (build with --{kind} to attach one)"
    )


def render_text(document: dict[str, Any], only_layer: int | None = None) -> str:
    lines = [
        f"{document['archive']}: {document.get('os')}/{document.get('architecture')}, "
        f"{len(document['layers'])} layers"
        + (f", tags {', '.join(document['tags'])}" if document["tags"] else "")
    ]
    if document.get("index"):
        offered = ", ".join(
            f"{item['platform']} {item['digest'][:19]}" for item in document["index"]
        )
        lines.append(
            f"index of {len(document['index'])} platforms: {offered} (--platform shows another)"
        )
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
        lines.append(
            f"layer {layer['number']}: {layer['size']} bytes stored, diff_id {layer['diff_id']}"
        )
        if layer["created_by"]:
            lines.append(f"  made by: {layer['created_by']}")
        for item in layer["files"]:
            note = "  (overrides a lower layer)" if item["path"] in layer["overrides"] else ""
            lines.append(f"  {entry_line(item)}{note}")
        for path in layer["deleted"]:
            lines.append(f"  deleted   {path}")
        for path in layer["opaque"]:
            lines.append(f"  replaced  {path}/ (opaque: lower contents hidden)")
    shown = [item for item in document.get("attestations", []) if item["shown"]]
    if only_layer is None and shown:
        lines.append("attestations (inspect --sbom or --provenance prints one):")
        lines += [f"  {item['predicate_type']}  {item['size']} bytes" for item in shown]
    if only_layer is None and document["layers"]:
        last = document["layers"][-1]
        lines.append(
            f"the last layer overrides {len(last['overrides'])} file(s)"
            + (": " + ", ".join(last["overrides"]) if last["overrides"] else "")
        )
        lines.append("file system (the union of the layers: what a container sees):")
        lines += filesystem_lines(document["filesystem"], indent="  ")
    if only_layer is not None and not any(
        item["number"] == only_layer for item in document["layers"]
    ):
        raise InspectError(
            f"--layer {only_layer}: the image has layers 1 to {len(document['layers'])}"
        )
    return "\n".join(lines) + "\n"
