"""Why a rebuild's image differs from the last build's: the question behind every cache miss.

Every build with a cache directory leaves there a summary of itself, one per context and
Dockerfile (`summary`): the build args, base images and times it used, and for each instruction
its text, the variables it saw, the config fields it set and its layer's diff_id with a checksum per
file of what the layer cache keyed it by (fields and the source's stat, so an edit that keeps
size and second still shows). `explain --why` builds again and `compare`s: the inputs that
moved (a build arg, a base digest, the timestamp policy, a Dockerfile line), the first
instruction whose layer or config changed, and which files changed in each layer. The same
comparison names, in --progress plain, the files that made a layer miss the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..build.evaluator import Evaluation, Step
from ..build.timestamps import Timestamps
from ..oci.blobstore import STAMPS
from ..oci.layer import BuiltLayer
from ..oci.model import WrittenImage
from .diff import config_changes

FORMAT = 2  # bump when the summary's fields change: older records are then ignored
SUMMARY_KEYS = {"image_id", "created", "time_source", "build_args", "bases", "steps"}
STEP_KEYS = {"line", "text", "in_image", "scope", "sets", "diff_id", "files", "has_layer"}


def record_path(
    cache_dir: Path, context: Path, dockerfile: Path, *, target: str = "", platforms: str = ""
) -> Path:
    """Where the last build of this context, Dockerfile, target and platforms is summarised
    (another target or platform is another image, not a change of this one)."""
    name = f"{Path(context).resolve()}\0{Path(dockerfile).resolve()}\0{target}\0{platforms}"
    return cache_dir / "summaries" / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.json"


def summary(
    evaluation: Evaluation,
    written: WrittenImage,
    *,
    build_args: dict[str, str],
    timestamps: Timestamps,
) -> dict[str, Any]:
    """What the next build is compared with (see the module's docstring)."""
    return {
        "format": FORMAT,
        "image_id": written.image_id,
        "created": timestamps.created,
        "time_source": timestamps.source,
        "build_args": build_args,
        "bases": {item.uri: item.digest for item in evaluation.materials},
        "steps": [_step(step, written) for step in evaluation.steps],
    }


def _step(step: Step, written: WrittenImage) -> dict[str, Any]:
    layer = step.layer
    number = step.layer_number
    return {
        "line": step.instruction.location.line,
        "text": step.instruction.text,
        "stage": step.stage,
        "in_image": step.in_image,
        "scope": dict(step.scope),
        "sets": {  # the config fields this instruction set, and to what
            change["path"]: change["after"]
            for change in config_changes(step.config_before.to_json(), step.config_after.to_json())
        },
        "diff_id": written.layers[number - 1].diff_id if number else None,
        "files": _stamps(layer),
        "has_layer": layer is not None,
    }


def _stamps(layer: object) -> dict[str, int] | None:
    """The layer's file stamps; None when it has none, or more files than they name."""
    if not isinstance(layer, BuiltLayer) or not layer.stamps or len(layer.stamps) >= STAMPS:
        return None
    return dict(layer.stamps)


def load(path: Path) -> dict[str, Any] | None:
    """The recorded summary, or None when there is none (or it is unreadable: a record is an
    aid, never a reason to fail)."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        return None
    steps = found.get("steps")
    if not SUMMARY_KEYS <= set(found) or not isinstance(steps, list):
        return None
    if not all(isinstance(step, dict) and STEP_KEYS <= set(step) for step in steps):
        return None
    return found


def save(path: Path, document: dict[str, Any]) -> None:
    """Replace the record whole (a reader never sees half of one); a cache that cannot be
    written costs only the next --why."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".partial-", delete=False, encoding="utf-8"
        ) as out:
            json.dump(document, out, ensure_ascii=False, separators=(",", ":"))
        os.replace(out.name, path)
    except OSError:
        pass


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What moved between two summaries, and what it changed, instruction by instruction."""
    inputs = _changed_values("build arg", before["build_args"], after["build_args"])
    inputs += _changed_values("base image", before["bases"], after["bases"])
    if before["created"] != after["created"] or before["time_source"] != after["time_source"]:
        inputs.append(
            {
                "kind": "time",
                "name": "created",
                "before": f"{before['created']} ({before['time_source']})",
                "after": f"{after['created']} ({after['time_source']})",
            }
        )
    steps, first = [], None
    old_steps, new_steps = before["steps"], after["steps"]
    for index, new in enumerate(new_steps):
        old = old_steps[index] if index < len(old_steps) else None
        change = _step_change(old, new)
        if change is None:
            continue
        steps.append(change)
        if first is None and new["in_image"] and (change["layer"] or change["config"]):
            first = change
    for old in old_steps[len(new_steps) :]:
        steps.append({"line": old["line"], "text": None, "was": old["text"], "layer": None})
        steps[-1].update(config=[], variables=[])
    return {
        "image_id": {"before": before["image_id"], "after": after["image_id"]},
        "identical": before["image_id"] == after["image_id"],
        "inputs": inputs,
        "first_change": first,
        "steps": steps,
    }


def _changed_values(kind: str, before: dict[str, str], after: dict[str, str]) -> list[dict]:
    return [
        {"kind": kind, "name": name, "before": before.get(name), "after": after.get(name)}
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


def _step_change(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any] | None:
    """How one instruction's result moved, or None when it did not."""
    old = old or {"text": None, "scope": {}, "sets": {}, "diff_id": None, "files": None}
    config = [
        {"path": path, "before": old["sets"].get(path), "after": new["sets"].get(path)}
        for path in sorted(set(old["sets"]) | set(new["sets"]))
        if old["sets"].get(path) != new["sets"].get(path)
    ]
    variables = [
        item
        for item in _changed_values("variable", old["scope"], new["scope"])
        if _reads(new["text"], item["name"])
    ]
    layer = None
    if new["has_layer"] and (old["diff_id"] != new["diff_id"] or old["files"] != new["files"]):
        layer = {
            "before": old["diff_id"],
            "after": new["diff_id"],
            "files": _file_changes(old["files"], new["files"]),
        }
        if old["diff_id"] == new["diff_id"] and new["diff_id"] is not None:
            layer = None  # sources touched, bytes the same: not a change of the image
    if not config and layer is None and old["text"] == new["text"] and not variables:
        return None
    return {
        "line": new["line"],
        "text": new["text"],
        "was": old["text"] if old["text"] != new["text"] else None,
        "variables": variables,
        "config": config,
        "layer": layer,
    }


def _reads(text: str, name: str) -> bool:
    return f"${name}" in text or f"${{{name}" in text


def _file_changes(before: dict[str, int] | None, after: dict[str, int] | None) -> dict | None:
    """Files added, removed and changed, by their stamps; None when a side has none (the
    layer came from a base image, or had more files than the record keeps)."""
    if before is None or after is None:
        return None
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(path for path in set(before) & set(after) if before[path] != after[path]),
    }


def miss_reasons(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """For --progress plain: each layer that differs from the last build's, and the files
    that made it differ (what a layer-cache miss comes from)."""
    if before is None:
        return []
    found = compare(before, after)
    return [
        f"line {step['line']}: layer rebuilt, {_files_phrase(step['layer']['files'])}"
        for step in found["steps"]
        if step["layer"] is not None
    ]


def _files_phrase(files: dict[str, list[str]] | None) -> str:
    if files is None:
        return "its files are not recorded"
    parts = []
    for word in ("changed", "added", "removed"):
        if files[word]:
            shown = ", ".join("/" + path for path in files[word][:5])
            more = f" and {len(files[word]) - 5} more" if len(files[word]) > 5 else ""
            parts.append(f"{word} since the last build: {shown}{more}")
    return "; ".join(parts) or "the same files (another input changed)"


def render_text(found: dict[str, Any]) -> str:
    """The comparison for a terminal."""
    before, after = found["image_id"]["before"], found["image_id"]["after"]
    lines = ["why: compared with the last build of this context and Dockerfile"]
    if found["identical"]:
        lines.append(f"  the image is the same: {after}")
        return "\n".join(lines) + "\n"
    lines.append(f"  image ID {before} -> {after}")
    for item in found["inputs"]:
        lines.append(f"  {item['kind']} {item['name']}: {item['before']} -> {item['after']}")
    first = found["first_change"]
    if first is not None:
        lines.append(f"  first change: line {first['line']}: {first['text']}")
    for step in found["steps"]:
        lines.append(f"line {step['line']}: {step['text'] or '(removed)'}")
        if step["was"] is not None:
            lines.append(f"  the line changed: it was {step['was']}")
        for item in step["variables"]:
            lines.append(f"  reads {item['name']}: {item['before']} -> {item['after']}")
        for change in step["config"]:
            lines.append(
                f"  {change['path']}: {json.dumps(change['before'])} -> "
                f"{json.dumps(change['after'])}"
            )
        if step["layer"] is not None:
            lines.append(f"  layer {step['layer']['before']} -> {step['layer']['after']}")
            lines.append(f"  files {_files_phrase(step['layer']['files'])}")
    return "\n".join(lines) + "\n"


def placed(difference: dict[str, Any], explained: dict[str, Any]) -> dict[str, Any]:
    """A diff of an older image against this build (reports/diff.py), each layer and config
    change placed at the Dockerfile line that made it here."""
    lines = {
        item["layer"]["number"]: item
        for item in explained["instructions"]
        if item["layer"] is not None and item["layer"].get("number")
    }
    for layer in difference["layers"]:
        made = lines.get(layer["number"])
        layer["line"] = made["line"] if made else None
        layer["text"] = made["text"] if made else None
    set_by = explained["config_set_by"]
    for change in difference["config"]:
        change["lines"] = set_by.get(change["path"], [])
    return difference


def render_against(difference: dict[str, Any]) -> str:
    """The --against comparison for a terminal: diff's text, with the lines that made each
    difference here."""
    a, b = difference["a"], difference["b"]
    lines = [f"why: compared with {a['image']}", f"  image ID {a['image_id']} -> {b['image_id']}"]
    if difference["identical"]:
        return "\n".join([*lines, "  the images are identical"]) + "\n"
    firsts = [item for item in difference["layers"] if item["line"]]
    config = [item for item in difference["config"] if item["lines"]]
    candidates = [(item["line"], item["text"]) for item in firsts]
    candidates += [(min(item["lines"]), None) for item in config]
    if candidates:
        first = min(candidates, key=lambda pair: pair[0])
        lines.append(f"  first change: line {first[0]}" + (f": {first[1]}" if first[1] else ""))
    for change in difference["config"]:
        where = f" (set by line {', '.join(map(str, change['lines']))})" if change["lines"] else ""
        lines.append(
            f"  {change['path']}: {json.dumps(change['before'])} -> "
            f"{json.dumps(change['after'])}{where}"
        )
    for layer in difference["layers"]:
        where = f"line {layer['line']}: {layer['text']}" if layer["line"] else "no line here"
        lines.append(f"layer {layer['number']} ({where})")
        for word in ("added", "removed"):
            lines += [f"  {word:8} {path}" for path in layer[word]]
        for item in layer["changed"]:
            lines.append(f"  changed  {item['path']} ({', '.join(item['fields'])})")
    return "\n".join(lines) + "\n"
