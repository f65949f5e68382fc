"""What a bake file asks for, resolved: every target with its inherited attributes, its matrix
expanded and its `${...}` evaluated, the groups, and the (target, platform) pairs that
`--shard K/N` splits. `--print` shows this plan as `docker buildx bake --print` does.

Read: HCL (`docker-bake.hcl`, `pybuild-bake.hcl`, parsed by python-hcl2) with `variable`
(default, overridden by an environment variable of the same name), `group`, `target`,
`inherits`, `matrix` and `name`; and compose files' `services.NAME.build` sections.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .expressions import Scope, plain, value_of

DEFAULT_FILES = (
    "docker-bake.json",
    "docker-bake.hcl",
    "pybuild-bake.hcl",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
)
LISTS = ("tags", "platforms", "output", "cache-from", "cache-to")
MAPS = ("args", "labels", "annotations")
KNOWN = {"context", "dockerfile", "target", "inherits", "matrix", "name", "no-cache", "pull"}
KNOWN |= set(LISTS) | set(MAPS) | {"description", "contexts", "attest", "secret", "ssh"}


@dataclass
class Plan:
    """The resolved targets (name -> attributes, as --print shows them) and groups."""

    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)

    def select(self, names: list[str]) -> list[str]:
        """The targets `names` (targets or groups) stand for, in order; no names: the
        `default` group, else a `default` target."""
        wanted = names or ["default"]
        found: list[str] = []

        def add(name: str, seen: tuple[str, ...]) -> None:
            if name in seen and name in self.targets:  # group foo may list target foo
                if name not in found:
                    found.append(name)
                return
            if name in seen:
                raise UsageError(f"bake: group {name} contains itself")
            if name in self.groups:
                for member in self.groups[name]:
                    add(member, (*seen, name))
            elif name in self.targets:
                if name not in found:
                    found.append(name)
            else:
                known = ", ".join(sorted({*self.targets, *self.groups}))
                raise UsageError(f"bake: no target or group {name!r} (the file has: {known})")

        for name in wanted:
            add(name, ())
        return found

    def pairs(self, names: list[str]) -> list[tuple[str, str]]:
        """(target, platform) for every platform of every target ("" for none given)."""
        return [
            (name, platform)
            for name in names
            for platform in (self.targets[name].get("platforms") or [""])
        ]

    def printed(self, names: list[str], share: list[tuple[str, str]] | None = None) -> dict:
        """The plan as `docker buildx bake --print` prints it (a shard: its pairs only)."""
        chosen = share if share is not None else self.pairs(names)
        targets: dict[str, dict[str, Any]] = {}
        for name, platform in chosen:
            entry = targets.setdefault(name, dict(self.targets[name]))
            if platform:
                entry["platforms"] = [
                    p for p in self.targets[name].get("platforms", []) if (name, p) in chosen
                ]
        return {"group": {"default": {"targets": list(targets)}}, "target": targets}


def shard(pairs: list[tuple[str, str]], spec: str) -> list[tuple[str, str]]:
    """`K/N`: the Kth of N deterministic shares (K from 1): pair i goes to share i mod N,
    the pairs sorted first, so every machine computes the same split."""
    try:
        k, n = (int(part) for part in spec.split("/"))
    except ValueError:
        raise UsageError(f"--shard {spec}: expected K/N, e.g. 1/2") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard {spec}: K counts from 1 to N")
    return [pair for index, pair in enumerate(sorted(pairs)) if index % n == k - 1]


def find_file(given: list[Path]) -> list[Path]:
    if given:
        return given
    for name in DEFAULT_FILES:
        if Path(name).is_file():
            return [Path(name)]
    raise UsageError(
        f"bake: no bake file here (looked for {', '.join(DEFAULT_FILES)}); use -f FILE"
    )


def read_plan(files: list[Path], overrides: dict[str, str] | None = None) -> Plan:
    """Every file's blocks, later files adding to earlier ones (as buildx merges them)."""
    blocks: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "variable": [],
        "group": [],
        "target": [],
    }
    for path in files:
        for kind, found in _blocks(path).items():
            blocks.setdefault(kind, []).extend(found)
    variables = _Variables(
        {name: body for name, body in blocks["variable"]}, overrides or dict(os.environ)
    )
    raw_targets: dict[str, dict[str, Any]] = {}
    labels: dict[str, str] = {}  # a block's key in raw_targets -> its label
    for number, (name, body) in enumerate(blocks["target"]):
        # Blocks of one label merge, except those with a matrix: each names its own targets.
        key = f"{name}\0{number}" if "matrix" in body else name
        raw_targets.setdefault(key, {}).update(body)
        labels[key] = name
    plan = Plan()
    for name, body in blocks["group"]:
        scope = Scope(variables.get, f"group {name}")
        members = value_of(body.get("targets", []), scope)
        plan.groups.setdefault(name, []).extend(str(member) for member in members)
    targets = _Targets(raw_targets, variables)
    for key in raw_targets:
        name = labels[key]
        for instance, attributes in targets.instances(key):
            plan.targets[instance] = attributes
            if instance != name:
                plan.groups.setdefault(name, []).append(instance)
    return plan


def _blocks(path: Path) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"bake: cannot read {path}: {error.strerror}") from None
    if path.suffix in (".yaml", ".yml"):
        return _compose(path, _substituted(text, path))
    if path.suffix == ".json":
        try:
            document = json.loads(text)
        except ValueError as error:
            raise UsageError(f"bake: {path} is not JSON ({error})") from None
        return {
            kind: [(name, body) for name, body in (document.get(kind) or {}).items()]
            for kind in ("variable", "group", "target")
        }
    import hcl2
    from lark.exceptions import LarkError

    try:
        document = hcl2.loads(text)
    except (LarkError, ValueError) as error:
        where = f"line {getattr(error, 'line', '?')}, column {getattr(error, 'column', '?')}"
        raise UsageError(f"bake: {path}: not HCL this reader understands ({where})") from None
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for kind in ("variable", "group", "target", "function"):
        for block in document.get(kind, []):
            for label, body in block.items():
                name = label[1:-1] if label.startswith('"') else label
                found.setdefault(kind, []).append((name, plain(body)))
    if found.get("function"):
        raise UsageError(f"bake: {path}: user-defined functions are not supported yet")
    return found


def _compose(path: Path, text: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """compose's `services.NAME.build` sections as targets (context, dockerfile, args,
    target, tags from `image` and `build.tags`, platforms, labels, cache_from/cache_to)."""
    import yaml

    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise UsageError(f"bake: {path} is not YAML ({first_line(error)})") from None
    targets = []
    for name, service in (document.get("services") or {}).items():
        build = service.get("build") if isinstance(service, dict) else None
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = build.get("context", ".")
        if not (context.startswith(("/", "http://", "https://", "git@"))):
            context = os.path.normpath(os.path.join(path.parent, context))
        body: dict[str, Any] = {
            "context": context,
            "dockerfile": build.get("dockerfile", "Dockerfile"),
        }
        args = build.get("args") or {}
        if isinstance(args, list):
            args = dict(item.partition("=")[::2] for item in args)
        tags = [service["image"]] if service.get("image") else []
        for key, value in (
            ("args", {k: "" if v is None else str(v) for k, v in args.items()}),
            ("target", build.get("target")),
            ("tags", tags + list(build.get("tags") or [])),
            ("platforms", build.get("platforms")),
            ("labels", build.get("labels")),
            ("cache-from", build.get("cache_from")),
            ("cache-to", build.get("cache_to")),
        ):
            if value:
                body[key] = _json_quoted(value)
        body["context"], body["dockerfile"] = (
            _json_quoted(body["context"]),
            _json_quoted(body["dockerfile"]),
        )
        targets.append((str(name), body))
    group = {"targets": _json_quoted([name for name, _ in targets])}
    return {"target": targets, "group": [("default", group)]}


def _substituted(text: str, path: Path) -> str:
    """compose's own variables, `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$`, from
    the environment, as compose reads them (before bake sees the values)."""

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, how, default = match.group(1), match.group(2) or "", match.group(3) or ""
        found = os.environ.get(name)
        if found is None or (how == ":-" and found == ""):
            return default
        return found

    return re.sub(r"\$\$|\$\{(\w+)(?:(:?-)([^}]*))?\}", value, text)


def first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _json_quoted(value: Any) -> Any:
    """Compose values as HCL would hold them (strings quoted, so `${...}` still works)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return [_json_quoted(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_quoted(item) for key, item in value.items()}
    return value


class _Variables:
    """`variable` blocks: an environment variable of the same name wins over the default
    (converted to the default's type), defaults may use other variables."""

    def __init__(self, blocks: dict[str, dict[str, Any]], environment: dict[str, str]):
        self.blocks, self.environment = blocks, environment
        self.values: dict[str, Any] = {}
        self.resolving: list[str] = []

    def get(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name not in self.blocks:
            raise UsageError(f'bake: unknown variable {name!r} (declare it with variable "{name}")')
        if name in self.resolving:
            raise UsageError(f"bake: variable {name} depends on itself")
        self.resolving.append(name)
        try:
            block = self.blocks[name]
            scope = Scope(self.get, f"variable {name}")
            default = value_of(block["default"], scope) if "default" in block else ""
        finally:
            self.resolving.pop()
        value = self.environment.get(name)
        self.values[name] = default if value is None else _typed(value, default)
        return self.values[name]


def _text(value: Any) -> str:
    """A value where bake wants a string: booleans as HCL writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _typed(text: str, like: Any) -> Any:
    """An environment value in the default's type, as buildx reads it (`0`/`false` is false;
    a number default takes `5.1`); a value that does not convert is an error naming it."""
    if isinstance(like, bool):
        if text.lower() not in ("1", "0", "true", "false", "t", "f"):
            raise UsageError(f"bake: {text!r} is not a bool (the variable's default is)")
        return text.lower() in ("1", "true", "t")
    if isinstance(like, (int, float)):
        try:
            number = float(text)
        except ValueError:
            raise UsageError(
                f"bake: {text!r} is not a number (the variable's default is)"
            ) from None
        return int(number) if number.is_integer() and "." not in text else number
    return text


class _Targets:
    """The file's target blocks, resolved on demand (a parent once, however many inherit)."""

    def __init__(self, raw: dict[str, dict[str, Any]], variables: _Variables):
        self.raw, self.variables = raw, variables
        self.resolved: dict[str, dict[str, Any]] = {}

    def instances(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        """The target's instances: one, or one per combination of its matrix."""
        body = self.raw[name]
        scope = Scope(self.variables.get, f"target {name}")
        matrix = value_of(body.get("matrix"), scope) if "matrix" in body else None
        label = name.split("\0")[0]
        if not matrix:
            attributes = self.attributes(name, {})
            return [(str(attributes.pop("name", None) or label), attributes)]
        keys = sorted(matrix)
        found = []
        for combination in itertools.product(*(matrix[key] for key in keys)):
            attributes = self.attributes(name, dict(zip(keys, combination, strict=True)))
            default = label + "-" + "-".join(map(str, combination))
            instance = str(attributes.pop("name", None) or default)
            found.append((instance.replace(".", "_"), attributes))
        return found

    def attributes(
        self, name: str, matrix: dict[str, Any], seen: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """A target's attributes: its parents' (in `inherits` order), then its own on top;
        maps (args, labels) merge key by key."""
        if name in seen:
            chain = " -> ".join((*seen, name))
            raise UsageError(f"bake: target {name} inherits from itself ({chain})")
        if not matrix and name in self.resolved:
            return dict(self.resolved[name])
        body = self.raw.get(name)
        if body is None:
            raise UsageError(
                f"bake: target {seen[-1]} inherits from {name!r}, which is not a target"
            )

        def lookup(key: str) -> Any:
            return matrix[key] if key in matrix else self.variables.get(key)

        label = name.split("\0")[0]  # (a block with a matrix is keyed apart from its label)
        scope = Scope(lookup, f"target {label}")
        attributes: dict[str, Any] = {}
        for parent in value_of(body.get("inherits", []), scope):
            inherited = self.attributes(str(parent), {}, (*seen, name))
            for key, value in inherited.items():
                attributes[key] = {**attributes.get(key, {}), **value} if key in MAPS else value
        for key, value in body.items():
            if key in ("inherits", "matrix"):
                continue
            if key not in KNOWN:
                raise UsageError(f"bake: target {label}: unknown attribute {key!r}")
            plain_value = value_of(value, scope)
            if key in MAPS:  # a null value leaves the key out, as buildx does
                given = {k: _text(v) for k, v in (plain_value or {}).items() if v is not None}
                attributes[key] = {**attributes.get(key, {}), **given}
            elif key in LISTS:  # `output = [""]` is no output
                items = plain_value or []
                if not isinstance(items, list):
                    raise UsageError(f"bake: target {label}: {key} must be a list of strings")
                attributes[key] = [_text(item) for item in items if item not in ("", None)]
            else:
                attributes[key] = plain_value
        for key, default in (("context", "."), ("dockerfile", "Dockerfile")):
            if not attributes.get(key):
                attributes[key] = default
        if not matrix:
            self.resolved[name] = dict(attributes)
        return attributes
