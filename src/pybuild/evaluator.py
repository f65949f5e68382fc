"""Instructions -> ImageSpec, with `docker build` semantics.

One small function per instruction, chosen by a dispatch table; each reads and updates the
current stage. Helpers raise plain InstructionErrors; `evaluate` adds the instruction's location.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .archives import archive_kind
from .context import BuildContext
from .copying import ROOT, ResolvedSource, parse_chown, plan_copy, resolve_sources
from .errors import InstructionError
from .expand import expand_word, expand_words
from .filesystem import ImageFiles, image_path
from .image import SCRATCH_PATH, HistoryEntry, ImageSpec
from .instructions import (
    Add,
    Cmd,
    Command,
    Copy,
    Dockerfile,
    Entrypoint,
    Env,
    Expose,
    From,
    Instruction,
    Unsupported,
    Word,
    Workdir,
)
from .layer import Layer
from .platform import Platform, parse_platform
from .timestamps import Timestamps

DEFAULT_SHELL = ["/bin/sh", "-c"]
PROTOCOLS = ("tcp", "udp", "sctp")
COPY_FLAGS = {"chown"}
LATER_FLAGS = {
    "from": "COPY --from (multi-stage builds)",
    "chmod": "--chmod",
    "link": "--link",
    "parents": "--parents",
    "exclude": "--exclude",
    "checksum": "ADD --checksum",
    "keep-git-dir": "ADD --keep-git-dir",
    "unpack": "ADD --unpack",
}


@dataclass
class Stage:
    """The image being built by one FROM ... section."""

    name: str | None
    platform: Platform
    config: dict[str, Any] = field(default_factory=lambda: {"Env": [SCRATCH_PATH]})
    layers: list[Layer] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    files: ImageFiles = field(default_factory=ImageFiles)
    cmd_set: bool = False

    def env(self) -> dict[str, str]:
        pairs = (item.partition("=") for item in self.config.get("Env", []))
        return {key: value for key, _, value in pairs}

    def set_env(self, key: str, value: str) -> None:
        env = self.config.setdefault("Env", [])
        for index, item in enumerate(env):
            if item.partition("=")[0] == key:
                env[index] = f"{key}={value}"
                return
        env.append(f"{key}={value}")

    def record(self, instruction: Instruction, layer: Layer | None = None) -> None:
        if layer is not None:
            self.layers.append(layer)
        self.history.append(HistoryEntry(instruction.text, empty_layer=layer is None))


@dataclass
class Build:
    context: BuildContext
    timestamps: Timestamps
    platform: Platform
    escape: str = "\\"
    stages: list[Stage] = field(default_factory=list)

    @property
    def stage(self) -> Stage:
        return self.stages[-1]

    def expand(self, word: Word) -> str:
        try:
            return expand_word(word.text, self.stage.env(), self.escape)
        except InstructionError as error:
            raise error.at(word.location)

    def expand_text(self, text: str, env: dict[str, str] | None = None) -> str:
        return expand_word(text, self.stage.env() if env is None else env, self.escape)


def check_flags(instruction: Instruction, allowed: set[str]) -> None:
    for flag in instruction.flags:
        if flag.name in allowed:
            continue
        if flag.name in LATER_FLAGS:
            raise InstructionError(
                f"{LATER_FLAGS[flag.name]} is not supported yet by pybuild", flag.location
            )
        raise InstructionError(
            f"unknown flag: --{flag.name} for {instruction.keyword.upper()}", flag.location
        )


def shell_command(command: Command) -> list[str]:
    if command.exec_form is not None:
        return list(command.exec_form)
    return [*DEFAULT_SHELL, command.shell_form or ""]


def dispatch_from(build: Build, instruction: From) -> None:
    check_flags(instruction, {"platform"})
    platform_flag = instruction.flag("platform")
    platform = build.platform
    if platform_flag is not None and platform_flag.value:
        platform = parse_platform(platform_flag.value)
    image = expand_word(instruction.image.text, {}, build.escape)
    if image.lower() != "scratch":
        raise InstructionError(
            f"base images are not supported yet: only FROM scratch can be built (got {image})",
            instruction.image.location,
        )
    build.stages.append(Stage(instruction.stage_name, platform))


def dispatch_copy(build: Build, instruction: Copy) -> None:
    check_flags(instruction, COPY_FLAGS)
    chown = instruction.flag("chown")
    owner = parse_chown(build.expand_text(chown.value or "")) if chown else ROOT
    words = [Word(build.expand(source), source.location) for source in instruction.sources]
    if isinstance(instruction, Add):
        refuse_remote_sources(words)
    sources = resolve_sources(build.context, words)
    if isinstance(instruction, Add):
        refuse_archives(sources)
    dest = Word(build.expand(instruction.dest), instruction.dest.location)
    workdir = build.stage.config.get("WorkingDir") or "/"
    entries = plan_copy(build.stage.files, sources, dest, workdir, owner, build.timestamps)
    layer = Layer.of(entries, instruction.text, instruction.location)
    build.stage.files.add(layer.entries)
    build.stage.record(instruction, layer)


def refuse_remote_sources(sources: list[Word]) -> None:
    """ADD from URLs and git repositories is not done yet: say so before looking for files."""
    for source in sources:
        lowered = source.text.lower()
        if lowered.startswith(("http://", "https://", "git@")) or lowered.endswith(".git"):
            raise InstructionError(
                f"ADD from a URL or git repository is not supported yet by pybuild ({source.text}); "
                "download it beforehand and COPY it",
                source.location,
            )


def refuse_archives(sources: list[ResolvedSource]) -> None:
    """ADD would extract a local tar (judged by content); pybuild does not do that yet."""
    for source in sources:
        kind = archive_kind(source.top.path) if source.top.kind == "file" else None
        if kind:
            raise InstructionError(
                f"ADD would extract the {kind} archive {source.path}, which pybuild does not do "
                "yet; use COPY to copy it as it is, or unpack it into the context and COPY that",
                source.word.location,
            )


def dispatch_env(build: Build, instruction: Env) -> None:
    env = build.stage.env()  # every pair expands against the variables from before this line
    updates = []
    for pair in instruction.pairs:
        try:
            key, value = build.expand_text(pair.key, env), build.expand_text(pair.value, env)
        except InstructionError as error:
            raise error.at(pair.location)
        if not key:
            raise InstructionError("ENV names can not be blank", pair.location)
        updates.append((key, value))
    for key, value in updates:
        build.stage.set_env(key, value)
    build.stage.record(instruction)


def parse_port(spec: str) -> list[str]:
    """'80' -> ['80/tcp']; '53/UDP' -> ['53/udp']; '8000-8002' -> three ports."""
    port, _, protocol = spec.partition("/")
    protocol = (protocol or "tcp").lower()
    if protocol not in PROTOCOLS:
        raise InstructionError(f"invalid protocol {protocol!r} in EXPOSE {spec} (tcp, udp or sctp)")
    first, sep, last = port.partition("-")
    if not first.isdigit() or (sep and not last.isdigit()):
        raise InstructionError(f"invalid port in EXPOSE: {spec}")
    start, end = int(first), int(last) if sep else int(first)
    if end > 65535 or start > 65535:
        raise InstructionError(f"invalid port in EXPOSE: {spec} (ports go up to 65535)")
    if end < start:
        raise InstructionError(f"invalid port range in EXPOSE: {spec} (end below start)")
    return [f"{number}/{protocol}" for number in range(start, end + 1)]


def dispatch_expose(build: Build, instruction: Expose) -> None:
    ports = build.stage.config.setdefault("ExposedPorts", {})
    for word in instruction.ports:
        try:
            for spec in expand_words(word.text, build.stage.env(), build.escape):
                for port in parse_port(spec):
                    ports[port] = {}
        except InstructionError as error:
            raise error.at(word.location)
    build.stage.record(instruction)


def dispatch_cmd(build: Build, instruction: Cmd) -> None:
    build.stage.config["Cmd"] = shell_command(instruction.command)
    build.stage.cmd_set = True
    build.stage.record(instruction)


def dispatch_entrypoint(build: Build, instruction: Entrypoint) -> None:
    build.stage.config["Entrypoint"] = shell_command(instruction.command)
    if not build.stage.cmd_set:
        build.stage.config.pop("Cmd", None)  # an inherited CMD does not survive a new ENTRYPOINT
    build.stage.record(instruction)


def dispatch_workdir(build: Build, instruction: Workdir) -> None:
    stage = build.stage
    requested = build.expand(instruction.path)
    current = stage.config.get("WorkingDir") or "/"
    workdir = posixpath.normpath(posixpath.join("/", current, requested))
    stage.config["WorkingDir"] = workdir
    path = image_path(workdir)
    if stage.files.is_dir(path):
        stage.record(instruction)
        return
    # Like the classic builder, WORKDIR makes the directory and commits it as a layer.
    mtime = build.timestamps.file_mtime(None)
    entries = stage.files.with_parents({path: stage.files.directory(path, 0, 0, mtime)}, 0, 0, mtime)
    layer = Layer.of(entries, instruction.text, instruction.location)
    stage.files.add(layer.entries)
    stage.record(instruction, layer)


def dispatch_unsupported(build: Build, instruction: Unsupported) -> None:
    keyword = instruction.keyword.upper()
    if keyword == "RUN":
        raise InstructionError(
            "RUN is not supported: pybuild never executes commands. Build the artifact "
            "beforehand (e.g. a static binary) and COPY it into the image"
        )
    raise InstructionError(f"{keyword} is not supported yet by pybuild")


HANDLERS: dict[type, Callable[[Build, Any], None]] = {
    From: dispatch_from,
    Copy: dispatch_copy,
    Add: dispatch_copy,
    Env: dispatch_env,
    Expose: dispatch_expose,
    Cmd: dispatch_cmd,
    Entrypoint: dispatch_entrypoint,
    Workdir: dispatch_workdir,
    Unsupported: dispatch_unsupported,
}


def evaluate(
    dockerfile: Dockerfile,
    context: BuildContext,
    platform: Platform,
    timestamps: Timestamps,
) -> ImageSpec:
    """Evaluate every instruction in order; the last stage is the image."""
    build = Build(context, timestamps, platform, dockerfile.escape)
    for instruction in dockerfile.instructions:
        if not build.stages and not isinstance(instruction, From):
            raise InstructionError(
                f"{instruction.keyword.upper()} before FROM: a Dockerfile starts with FROM",
                instruction.location,
            )
        try:
            HANDLERS[type(instruction)](build, instruction)
        except InstructionError as error:
            raise error.at(instruction.location)
    stage = build.stage
    return ImageSpec(
        layers=tuple(stage.layers),
        config=stage.config,
        history=tuple(stage.history),
        platform=stage.platform,
        created=timestamps.created,
    )
