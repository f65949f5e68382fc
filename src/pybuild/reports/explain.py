"""`pybuild explain`: what each instruction produced, for people learning how images work.

For every instruction: where it is, the layer it made (diff_id, digest, size, files with mode,
owner, size and the context path each came from, and what .dockerignore left out), or the exact
config change (JSON path, before, after), the variables in scope after ARG and ENV, and the
history entry it added. Then the config and manifest, each config field with the lines that set
it, the image ID, and how each digest is computed.

The JSON form is a stable schema (`SCHEMA_VERSION`); see docs/explain.md. It reads only the
build's Evaluation (what each instruction did) and the written image: no side channels.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..build.evaluator import Evaluation
from ..build.timestamps import Timestamps
from ..oci.blobstore import NO_CACHE
from ..oci.layer import Layer, LayerEntry, tar_digests
from ..oci.layout import blob_path
from ..oci.model import LayerBlob, WrittenImage
from ..oci.rootfs import union
from .diff import config_changes
from .filesystem import entry_line, entry_row, file_list, filesystem_lines

SCHEMA_VERSION = 1
DIGEST_NOTES = {
    "diff_id": "sha256 of the layer's uncompressed tar; listed in the config's rootfs.diff_ids",
    "digest": "sha256 of the layer blob as stored (compressed or not); named in the manifest "
    "and used as the blob's file name (equal to diff_id when uncompressed)",
    "image_id": "sha256 of the config JSON bytes; what `docker images` shows as IMAGE ID",
    "manifest_digest": "sha256 of the OCI manifest JSON bytes; what registries call the "
    "image's digest (NAME@sha256:...)",
}
# ANSI styles, as click.style writes them; the CLI alone decides whether to use colour.
STYLES: dict[str, dict[Any, int]] = {
    "fg": {"cyan": 36, "yellow": 33, "bright_black": 90},
    "bold": {True: 1},
}


def _file(entry: LayerEntry, stage: str | None) -> dict[str, Any]:
    """A file's row; `source` says where it came from: a context path, or `STAGE:/path` for
    COPY --from (a stage's name or number, or an image)."""
    source = entry.origin or None
    if source and stage is not None:
        source = f"{stage}:/{source.lstrip('/')}"
    return {**entry_row(entry), "source": source}


def _layer(
    layer: Layer, blob: LayerBlob, in_image: bool, *, media_type: str, stage: str | None = None
) -> dict[str, Any]:
    files = [_file(entry, stage) for entry in layer.entries]
    return {
        "diff_id": blob.diff_id,
        "digest": blob.digest,
        "size": blob.size,
        "media_type": media_type,
        "in_image": in_image,
        "file_count": sum(1 for entry in layer.entries if entry.kind != "dir"),
        "dir_count": sum(1 for entry in layer.entries if entry.kind == "dir"),
        "files": files,
    }


def explanation(
    evaluation: Evaluation,
    written: WrittenImage,
    media_type: str,
    *,
    dockerfile: str,
    source: list[str] | None = None,
    others: tuple[Evaluation, ...] = (),
    timestamps: Timestamps | None = None,
) -> dict[str, Any]:
    """The explain document (schema version 1). With `others` (the other platforms of a
    multi-platform build), `by_platform` says which lines gave another result there and which
    platform variables they read."""
    instructions: list[dict[str, Any]] = []
    set_by: dict[str, list[int]] = {}
    for step in evaluation.steps:
        item: dict[str, Any] = {
            "line": step.instruction.location.line,
            "column": step.instruction.location.column,
            "instruction": step.instruction.keyword.upper(),
            "text": step.instruction.text,
            "stage": step.stage,
            "stage_name": step.stage_name,
            "layer": None,
            "config_changes": config_changes(
                step.config_before.to_json(), step.config_after.to_json()
            ),
            "history": None,
        }
        if step.author_before != step.author_after:
            item["config_changes"].append(
                {"path": "author", "before": step.author_before or None, "after": step.author_after}
            )
        if step.layer is not None:
            number = step.layer_number
            blob = written.layers[number - 1] if number else tar_digests(step.layer, NO_CACHE)
            copying = step.instruction.keyword.lower() in ("copy", "add")
            copied_from = step.instruction.options.get("from") if copying else None
            item["layer"] = _layer(
                step.layer,
                blob,
                number is not None,
                media_type=media_type if number else "application/vnd.oci.image.layer.v1.tar",
                stage=copied_from,
            )
            item["layer"]["excluded_by_dockerignore"] = sorted(set(step.excluded))
            item["layer"]["number"] = number  # its place in the image (None: another stage)
        if step.history is not None:
            item["history"] = {
                "created_by": step.history.created_by,
                "empty_layer": step.history.empty_layer,
            }
        if item["instruction"] in ("ARG", "ENV"):
            item["variables"] = dict(step.scope)
        if step.in_image:
            for change in item["config_changes"]:
                set_by.setdefault(change["path"], []).append(item["line"])
        instructions.append(item)
    config = json.loads(written.config)
    return {
        "schema_version": SCHEMA_VERSION,
        "dockerfile": dockerfile,
        "source": source or [],
        "instructions": instructions,
        "config": config,
        "config_set_by": set_by,
        "image_id": written.image_id,
        "manifest_digest": written.manifest_digest,
        "diff_ids": [blob.diff_id for blob in written.layers],
        "digests": DIGEST_NOTES,
        "filesystem": file_list(union(layer.entries for layer in evaluation.image.layers)),
        "platforms": [str(item.image.config.platform) for item in (evaluation, *others)],
        "by_platform": platform_differences(evaluation, others),
        "runs": what_runs(config.get("config") or {}, set_by),
        "time": {
            "created": config.get("created"),
            "file_mtimes": (timestamps or Timestamps()).file_times,
            "source": (timestamps or Timestamps()).source,
            "set_by": "--timestamp, else SOURCE_DATE_EPOCH, else the epoch",
        },
    }


SHELL_FORM = ["/bin/sh", "-c"]


def what_runs(config: dict[str, Any], set_by: dict[str, list[int]]) -> dict[str, Any]:
    """The process `docker run IMAGE` starts, as the engine assembles it: ENTRYPOINT then CMD
    (CMD alone when there is no ENTRYPOINT), shell forms already wrapped in /bin/sh -c; the
    user, directory and environment it starts with; and the lines that set each."""
    entrypoint, cmd = config.get("Entrypoint") or [], config.get("Cmd") or []
    argv = entrypoint if entrypoint[:2] == SHELL_FORM else [*entrypoint, *cmd]
    notes = []
    if not argv:
        notes.append("no ENTRYPOINT or CMD: `docker run` must be given a command")
    if entrypoint[:2] == SHELL_FORM:
        notes.append(
            "ENTRYPOINT is in shell form: /bin/sh runs it, CMD and `docker run` arguments are "
            "ignored, and signals go to the shell, not the program"
        )
    elif cmd[:2] == SHELL_FORM and not entrypoint:
        notes.append("CMD is in shell form: /bin/sh -c runs it (the image needs a /bin/sh)")
    if entrypoint and cmd and entrypoint[:2] != SHELL_FORM:
        notes.append(
            "CMD gives ENTRYPOINT its default arguments; `docker run IMAGE ARGS` replaces them"
        )
    return {
        "argv": argv,
        "user": config.get("User") or "root (the default: no USER)",
        "workdir": config.get("WorkingDir") or "/ (the default: no WORKDIR)",
        "env": config.get("Env") or [],
        "notes": notes,
        "set_by": {
            key: set_by.get(f"config.{key}", [])
            for key in ("Entrypoint", "Cmd", "User", "WorkingDir", "Env")
        },
    }


PLATFORM_ARGS = re.compile(r"\$\{?((?:TARGET|BUILD)(?:PLATFORM|OS|ARCH|VARIANT))\b")


def platform_differences(first: Evaluation, others: tuple[Evaluation, ...]) -> list[dict]:
    """The instructions whose layer or config differs between platforms, and why: the
    platform variables their text reads."""
    found = []
    for index, step in enumerate(first.steps):
        differ = []
        for other in others:
            if index >= len(other.steps):
                continue
            theirs = other.steps[index]
            layers_differ = (step.layer is None) != (theirs.layer is None) or (
                step.layer is not None
                and theirs.layer is not None
                and step.layer.entries != theirs.layer.entries
            )
            if layers_differ or step.config_after != theirs.config_after:
                differ.append(str(other.image.config.platform))
        if differ:
            found.append(
                {
                    "line": step.instruction.location.line,
                    "text": step.instruction.text,
                    "differs_on": differ,
                    "reads": sorted(set(PLATFORM_ARGS.findall(step.instruction.text))),
                }
            )
    return found


def render_text(document: dict[str, Any], colour: bool = False) -> str:
    """The explain document for a terminal: one block per instruction, then the image."""

    def style(text: str, **kwargs: Any) -> str:
        if not colour:
            return text
        codes = "".join(f"\x1b[{STYLES[key][value]}m" for key, value in kwargs.items())
        return f"{codes}{text}\x1b[0m"

    def short(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = []
    for item in document["instructions"]:
        where = f"{document['dockerfile']}:{item['line']}:{item['column']}"
        lines.append(f"{style(where, fg='cyan')}  {style(item['text'], bold=True)}")
        layer = item["layer"]
        if layer is not None:
            note = "" if layer["in_image"] else " (in another stage, not in the image)"
            lines.append(f"  layer  diff_id {layer['diff_id']}{note}")
            if layer["digest"] != layer["diff_id"]:
                lines.append(f"         digest  {layer['digest']}")
            lines.append(f"         {layer['size']} bytes, {contents(layer)}")
            for entry in layer["files"]:
                source = f"  <- {entry['source']}" if entry["source"] else ""
                lines.append(f"         {entry_line(entry)}{style(source, fg='bright_black')}")
            for path in layer.get("excluded_by_dockerignore", []):
                lines.append(
                    f"         {style('excluded by .dockerignore: ' + path, fg='bright_black')}"
                )
        for change in item["config_changes"]:
            lines.append(
                f"  {style(change['path'], fg='yellow')}: {short(change['before'])} "
                f"-> {short(change['after'])}"
            )
        if "variables" in item:
            scope = " ".join(f"{key}={value}" for key, value in sorted(item["variables"].items()))
            lines.append(f"  variables: {scope or '(none)'}")
        if item["history"] is not None:
            empty = ", empty_layer" if item["history"]["empty_layer"] else ""
            lines.append(f"  history: {short(item['history']['created_by'])}{empty}")
        lines.append("")
    lines.append(style("config", bold=True) + " (the lines that set each field):")
    for key, value in document["config"]["config"].items():
        set_by = document["config_set_by"].get(f"config.{key}") or sorted(
            {
                line
                for path, found in document["config_set_by"].items()
                if path.startswith(f"config.{key}.")
                for line in found
            }
        )
        where = f"  # line {', '.join(map(str, set_by))}" if set_by else ""
        lines.append(f"  {key}: {short(value)}{style(where, fg='bright_black')}")
    lines.append(f"  rootfs.diff_ids: {len(document['diff_ids'])} layers")
    lines.append("")
    lines += _runs_lines(document["runs"], style)
    if document.get("archive"):
        lines += _anatomy_lines(document["archive"], style)
    time = document.get("time")
    if time:
        lines.append(style("time", bold=True) + f" (from {time['source']}):")
        lines.append(f"  created      {time['created']}")
        lines.append(f"  file mtimes  {time['file_mtimes']}")
        lines.append("")
    lines.append(f"image ID         {document['image_id']}")
    lines.append(f"manifest digest  {document['manifest_digest']}")
    if len(document.get("platforms") or []) > 1:
        lines.append(
            f"platforms: {', '.join(document['platforms'])} (shown: {document['platforms'][0]})"
        )
        for item in document["by_platform"]:
            why = f" (reads {', '.join(item['reads'])})" if item["reads"] else ""
            lines.append(
                f"  line {item['line']} differs on {', '.join(item['differs_on'])}: "
                f"{item['text']}{why}"
            )
    for name, sentence in document["digests"].items():
        lines.append(f"  {name}: {sentence}")
    lines.append("")
    lines.append(
        style("file system", bold=True) + " (the union of the layers: what a container sees):"
    )
    lines += filesystem_lines(document["filesystem"], indent="  ")
    return "\n".join(lines) + "\n"


def _runs_lines(runs: dict[str, Any], style: Any) -> list[str]:
    """`docker run IMAGE` starts: argv, user, directory, environment, with their lines."""

    def where(key: str) -> str:
        found = runs["set_by"].get(key) or []
        return style(f"  # line {', '.join(map(str, found))}", fg="bright_black") if found else ""

    argv = runs["argv"]
    lines = [style("what runs", bold=True) + " (what `docker run IMAGE` starts):"]
    shown = json.dumps(argv, ensure_ascii=False) if argv else "(nothing)"
    lines.append(f"  command  {shown}{where('Entrypoint') or where('Cmd')}")
    lines.append(f"  user     {runs['user']}{where('User')}")
    lines.append(f"  workdir  {runs['workdir']}{where('WorkingDir')}")
    for variable in runs["env"]:
        lines.append(f"  env      {variable}")
    lines += [f"  note: {note}" for note in runs["notes"]]
    lines.append("")
    return lines


ANATOMY_ROLES = {
    "oci-layout": "marks the directory (or tar) as an OCI image layout",
    "index.json": "the entry point of OCI tools: names the image manifest by digest, with the tag",
    "manifest.json": "what `docker load` reads: the config and the layers, by path",
    "manifest": "the OCI image manifest: the config and each layer blob, by digest and size",
    "config": "the config: what the container runs, rootfs.diff_ids (one per layer) and history",
}


def anatomy(
    files: dict[str, bytes], manifest: bytes, config: bytes, *, explained: dict[str, Any]
) -> dict[str, Any]:
    """The written archive itself, document by document, in the order a reader follows it
    (index.json -> manifest -> config -> diff_ids -> layers), each layer blob placed at the
    Dockerfile line that made it."""
    manifest_doc, config_doc = json.loads(manifest), json.loads(config)
    documents = [
        {"name": name, "role": ANATOMY_ROLES[name], "json": json.loads(files[name])}
        for name in ("oci-layout", "index.json", "manifest.json")
        if name in files
    ]
    for role, data, value in (("manifest", manifest, manifest_doc), ("config", config, config_doc)):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        documents.append(
            {
                "name": blob_path(digest),
                "role": ANATOMY_ROLES[role],
                "digest": digest,
                "json": value,
            }
        )
    made_by = {
        item["layer"]["number"]: item
        for item in explained["instructions"]
        if item["layer"] is not None and item["layer"].get("number")
    }
    layers = []
    for number, (blob, diff_id) in enumerate(
        zip(manifest_doc["layers"], config_doc["rootfs"]["diff_ids"], strict=True), start=1
    ):
        step = made_by.get(number)
        layers.append(
            {
                "number": number,
                "name": blob_path(blob["digest"]),
                "digest": blob["digest"],
                "diff_id": diff_id,
                "size": blob["size"],
                "media_type": blob["mediaType"],
                "line": step["line"] if step else None,
                "text": step["text"] if step else "(from the base image)",
            }
        )
    return {
        "order": "index.json -> manifest -> config -> diff_ids -> layers",
        "documents": documents,
        "layers": layers,
    }


def _anatomy_lines(found: dict[str, Any], style: Any) -> list[str]:
    lines = [style("the archive", bold=True) + f" ({found['order']}):"]
    for item in found["documents"]:
        lines.append(f"  {item['name']}: {item['role']}")
        if item["name"] == "index.json":
            for entry in item["json"].get("manifests", []):
                tag = (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name")
                lines.append(
                    f"    -> manifest {entry['digest']}" + (f" (tag {tag})" if tag else "")
                )
        elif item["name"] == "manifest.json":
            for entry in item["json"]:
                lines.append(f"    Config {entry['Config']}, {len(entry['Layers'])} layers")
        elif "digest" in item and "layers" in item["json"]:
            lines.append(f"    -> config {item['json']['config']['digest']}")
            lines += [f"    -> layer {layer['digest']}" for layer in item["json"]["layers"]]
        elif "digest" in item:
            diff_ids = item["json"].get("rootfs", {}).get("diff_ids", [])
            lines += [f"    rootfs.diff_ids: {diff_id}" for diff_id in diff_ids]
    for layer in found["layers"]:
        where = f"line {layer['line']}: {layer['text']}" if layer["line"] else layer["text"]
        lines.append(f"  {layer['name']}: layer {layer['number']}, {layer['size']} bytes ({where})")
        lines.append(f"    its tar's sha256 (diff_id) {layer['diff_id']}")
    lines.append("")
    return lines


def contents(layer: dict[str, Any]) -> str:
    """`3 files, 1 directory`: what a layer holds, counted as a person would."""
    files, directories = layer["file_count"], layer.get("dir_count", 0)
    parts = [f"{files} file{'' if files == 1 else 's'}"] if files or not directories else []
    if directories:
        parts.append(f"{directories} director{'y' if directories == 1 else 'ies'}")
    return ", ".join(parts)
