"""Instructions -> an Image (oci/model.py), with `docker build` semantics.

One small function per instruction, chosen by a dispatch table; each reads the current stage
and replaces its (immutable) run config, or adds a layer. Helpers raise plain InstructionErrors;
`run_instruction` adds the instruction's location. Every instruction leaves a `Step` saying what
it did, which `pybuild explain` shows.
"""

from __future__ import annotations

import posixpath
import re
import signal
import urllib.parse
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import InitVar, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..dockerfile.expand import expand_heredoc, expand_word, expand_words
from ..dockerfile.instructions import (
    Add,
    Arg,
    Cmd,
    Command,
    Copy,
    Dockerfile,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Heredoc,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Shell,
    Stopsignal,
    Unsupported,
    User,
    Volume,
    Word,
    Workdir,
)
from ..dockerfile.lower import lower, trigger_problem
from ..dockerfile.parser import parse_dockerfile
from ..errors import InstructionError, Location, PybuildError, UsageError, located
from ..events import QUIET, Reporter
from ..oci.blobstore import NO_CACHE, BlobStore
from ..oci.layer import BuiltLayer, Layer
from ..oci.model import SCRATCH_PATH, HistoryEntry, Image, ImageConfig, RunConfig
from ..oci.model import Healthcheck as HealthcheckConfig
from ..oci.platform import Platform, host_platform, parse_platform
from .archives import archive_kind, uncompressed_tar
from .bases import BaseImage
from .context import BuildContext, SourceFile
from .contexts import NamedContext, context_key, parse_named_context
from .copying import CopyOptions, ResolvedSource, SourceTree, plan_copy, resolve_sources
from .download import is_git, is_url
from .filesystem import ImageFiles, image_path
from .ignore import IgnoreRules
from .permissions import MAX_ID, parse_chmod, parse_chown
from .timestamps import Timestamps

if TYPE_CHECKING:
    from ..oci.registry import RegistryAccess

DEFAULT_SHELL = ("/bin/sh", "-c")
PROTOCOLS = ("tcp", "udp", "sctp")
# Build arguments Docker accepts without an ARG declaring them (never warned about).
PREDEFINED_ARGS = frozenset(
    "HTTP_PROXY http_proxy HTTPS_PROXY https_proxy FTP_PROXY ftp_proxy NO_PROXY no_proxy "
    "ALL_PROXY all_proxy".split()
)
NOT_YET = {
    "keep-git-dir": "ADD --keep-git-dir",
    "unpack": "ADD --unpack",
}


@dataclass
class Stage:
    """The image being built by one FROM ... section.

    ENV is kept live in dicts (and `run.env` built from them only when read), and `scope()` is
    a view, not a copy: a Dockerfile of 100,000 ENV lines evaluates in linear time."""

    name: str | None
    index: int
    platform: Platform
    start: InitVar[RunConfig | None] = None  # the config it starts from (a base's, or scratch's)
    layers: list[Layer] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    files: ImageFiles = field(default_factory=ImageFiles)
    author: str = ""
    args: dict[str, str] = field(default_factory=dict)  # ARGs declared in this stage, with values
    cmd_set: bool = False
    base: Stage | None = None  # the stage this one was built FROM, if any

    def __post_init__(self, start: RunConfig | None) -> None:
        self._run: RunConfig | None = None
        self._env_changed = False
        self.run = start if start is not None else RunConfig(env=(SCRATCH_PATH,))

    @property
    def run(self) -> RunConfig:
        """The stage's config now; its env is rebuilt from the live ENV only after a change."""
        assert self._run is not None
        if self._env_changed:
            self._run = replace(self._run, env=tuple(self._env_entries.values()))
            self._env_changed = False
        return self._run

    @run.setter
    def run(self, config: RunConfig) -> None:
        current = self._run
        if current is not None and not self._env_changed and config.env is current.env:
            self._run = config  # another field changed: the live ENV stands
            return
        self._run = config
        self._env_changed = False
        self._env_values: dict[str, str] = {}
        self._env_entries: dict[str, str] = {}  # name -> "NAME=value", in the config's order
        for entry in config.env or ():
            key, _, value = entry.partition("=")
            self._env_values[key] = value
            self._env_entries[key] = entry

    def set_env(self, key: str, value: str) -> None:
        """ENV: replace an earlier value in place (as Docker does) or append."""
        self._env_values[key] = value
        self._env_entries[key] = f"{key}={value}"
        self._env_changed = True

    @staticmethod
    def from_image(base: BaseImage, name: str | None, index: int) -> Stage:
        """A stage that starts from a base image: its config, history, layers and files."""
        config = base.image.config
        return Stage(
            name,
            index,
            config.platform,
            config.run,
            list(base.image.layers),
            list(config.history),
            ImageFiles(name or f"stage {index}", base.files.copy()),
            config.author,
        )

    def based_on(self, name: str | None, index: int) -> Stage:
        """A new stage that starts from this one's image (`FROM earlier-stage`)."""
        return Stage(
            name,
            index,
            self.platform,
            self.run,
            list(self.layers),
            list(self.history),
            self.files.copy(name or f"stage {index}"),
            self.author,
            base=self,
        )

    @property
    def shell(self) -> list[str]:
        return list(self.run.shell or DEFAULT_SHELL)

    def scope(self) -> Mapping[str, str]:
        """What `$VAR` sees: the stage's ARGs, overridden by ENV of the same name (a live
        view: copy it to keep it)."""
        return ChainMap(self._env_values, self.args)

    def record(self, instruction: Instruction, layer: Layer | None = None) -> None:
        if layer is not None:
            self.layers.append(layer)
        self.history.append(HistoryEntry(instruction.text, empty_layer=layer is None))


@dataclass(frozen=True)
class Step:
    """What one instruction did, for `pybuild explain`: the stage's run config before and
    after, the variables in scope after it, and the layer and history entry it added (if any)."""

    instruction: Instruction
    stage: int | None  # None for ARG before the first FROM
    stage_name: str | None
    config_before: RunConfig
    config_after: RunConfig
    author_before: str
    author_after: str
    scope: dict[str, str]
    layer: Layer | None
    history: HistoryEntry | None
    excluded: tuple[str, ...] = ()  # context paths .dockerignore hid from this instruction
    in_image: bool = False  # set once the target stage is known
    layer_number: int | None = None  # 1-based place of `layer` in the image, when it is there


@dataclass(frozen=True)
class Evaluation:
    """What evaluating a Dockerfile gives: the image, what each instruction did, warnings for
    the user, and what came from the network (images pulled, URLs downloaded)."""

    image: Image
    steps: tuple[Step, ...]
    warnings: tuple[str, ...] = ()
    fetched: tuple[str, ...] = ()
    materials: tuple[Material, ...] = ()  # every input from outside the context, by digest


@dataclass(frozen=True)
class Material:
    """An input the build took from outside its context (a base image, an ADD URL), named as
    provenance names it (a package URL or the URL) with the digest of what was used."""

    uri: str
    digest: str  # sha256:...


@dataclass
class Build:
    context: BuildContext
    timestamps: Timestamps
    platform: Platform
    escape: str = "\\"
    build_args: dict[str, str] = field(default_factory=dict)
    meta_args: dict[str, str | None] = field(default_factory=dict)  # ARGs before the first FROM
    declared: set[str] = field(default_factory=set)
    stages: list[Stage | None] = field(default_factory=list)  # None: a stage not needed
    scratch_dir: Path | None = None  # where compressed ADD archives are decompressed
    steps: list[Step] = field(default_factory=list)  # what each instruction did (explain)
    # Steps copy the config and variables at every instruction: only explain asks for them
    # (a copy per instruction would make 100,000 ENV lines quadratic in time and memory).
    record_steps: bool = True
    named_contexts: dict[str, NamedContext] = field(default_factory=dict)  # by context_key
    registry: RegistryAccess | None = None  # how to pull base images (None: pulling is off)
    images: dict[str, BaseImage] = field(default_factory=dict)  # base images loaded so far
    reporter: Reporter = QUIET  # told of downloads
    store: BlobStore = NO_CACHE  # where pulled blobs are kept for the next build
    fetched: list[str] = field(default_factory=list)  # images pulled and URLs downloaded
    materials: dict[str, Material] = field(default_factory=dict)  # by uri, in order of use

    def named(self, reference: str) -> NamedContext | None:
        """The --build-context that FROM or --from `reference` names, if any."""
        return self.named_contexts.get(context_key(reference))

    def base_image(self, name: str, location: Any, platform: Platform) -> BaseImage:
        """A named --build-context, else an image pulled from its registry, for `platform`
        (loaded once per name and platform)."""
        key = f"{name} {platform}"
        if key not in self.images:
            from .bases import load_local, pull

            named = self.named(name)
            try:
                if named is not None and named.kind == "directory":
                    raise InstructionError(
                        f"{name} is the local directory {named.location}: it serves "
                        "COPY --from, not FROM (give an image: docker-archive:, oci-layout:// "
                        "or docker-image://)",
                        location,
                    )
                if named is not None and named.kind != "docker-image":
                    self.images[key] = load_local(named, platform, self.scratch())
                elif self.registry is None:
                    raise InstructionError(
                        f"{name} is not a stage or a --build-context, and pulling is off", location
                    )
                else:
                    reference = named.location if named is not None else name
                    self.images[key] = pull(
                        reference,
                        platform,
                        self.scratch(),
                        access=self.registry,
                        store=self.store,
                        reporter=self.reporter,
                    )
                    self.fetched.append(reference)
                self.used(base_material(name, named, platform, base=self.images[key]))
            except InstructionError:
                raise
            except PybuildError as error:
                how = (
                    "loading its --build-context failed"
                    if named is not None
                    else "it is not an earlier stage or a --build-context, and pulling it failed"
                )
                raise InstructionError(f"{name}: {how}: {error}", location) from None
        return self.images[key]

    def used(self, material: Material) -> None:
        self.materials.setdefault(material.uri, material)

    def scratch(self) -> Path:
        if self.scratch_dir is None:
            raise InstructionError("no scratch directory for decompressing archives")
        return self.scratch_dir

    @property
    def stage(self) -> Stage:
        current = self.stages[-1]
        assert current is not None
        return current

    def meta_scope(self) -> dict[str, str]:
        return {key: value for key, value in self.meta_args.items() if value is not None}

    def expand(self, word: Word, scope: Mapping[str, str] | None = None) -> str:
        with located(word.location):
            return self.expand_text(word.text, scope)

    def expand_text(self, text: str, scope: Mapping[str, str] | None = None) -> str:
        return expand_word(text, self.stage.scope() if scope is None else scope, self.escape)

    def find_stage(self, reference: str, before: int) -> Stage | None:
        """A stage before index `before`, by name (case-insensitive) or by index."""
        for stage in self.stages[:before]:
            if stage is not None and stage.name == reference.lower():
                return stage
        if reference.isdigit() and int(reference) < before:
            return self.stages[int(reference)]
        return None


def flag_location(instruction: Instruction, name: str) -> Location:
    """Where `--name` was written, or the instruction's place when it was not."""
    flag = instruction.flag(name)
    return flag.location if flag is not None else instruction.location


def stage_from(stage: list[Instruction]) -> From:
    """The FROM that opens a stage's instructions (split_stages puts it first)."""
    first = stage[0]
    assert isinstance(first, From)
    return first


def refuse_unsupported_options(instruction: Instruction) -> None:
    for name in instruction.options:
        if name in NOT_YET:
            raise InstructionError(
                f"{NOT_YET[name]} is not supported yet by pybuild", flag_location(instruction, name)
            )


def shell_command(stage: Stage, command: Command) -> list[str]:
    if command.exec_form is not None:
        return list(command.exec_form)
    return [*stage.shell, command.shell_form or ""]


def dispatch_from(build: Build, instruction: From) -> None:
    platform = build.platform
    if "platform" in instruction.options:
        where = flag_location(instruction, "platform")
        text = build.expand(Word(instruction.options["platform"], where), build.meta_scope())
        try:
            platform = parse_platform(text)
        except UsageError as error:
            raise InstructionError(str(error), where) from None
    image = build.expand(instruction.image, build.meta_scope())
    index = len(build.stages)
    if not image:
        raise InstructionError("base name (FROM) should not be blank", instruction.image.location)
    base = build.find_stage(image, before=index)
    if base is not None:
        build.stages.append(base.based_on(instruction.stage_name, index))
    elif image.lower() == "scratch":
        build.stages.append(
            Stage(
                instruction.stage_name,
                index,
                platform,
                files=ImageFiles(instruction.stage_name or f"stage {index}"),
            )
        )
    else:
        with located(instruction.image.location):
            pulled = build.base_image(image, instruction.image.location, platform)
        build.stages.append(Stage.from_image(pulled, instruction.stage_name, index))
    run_triggers(build, instruction, image)


def run_triggers(build: Build, instruction: From, image: str) -> None:
    """The base's ONBUILD triggers run here, at the FROM, in order, as BuildKit runs them;
    the new stage does not inherit them (its own ONBUILD lines start a new list)."""
    stage = build.stage
    triggers = stage.run.on_build or ()
    if not triggers:
        return
    stage.run = replace(stage.run, on_build=None)
    for trigger in triggers:
        shown = f"ONBUILD {trigger} (a trigger of {image})"
        try:
            problem = trigger_problem(trigger.strip())
            if problem:
                raise InstructionError(problem)
            steps = lower(parse_dockerfile(trigger + "\n", shown)).instructions
            if len(steps) != 1:
                raise InstructionError("a trigger must be exactly one instruction")
            for step in steps:
                if isinstance(step, Unsupported):
                    raise InstructionError(
                        f"{step.keyword} is not supported: pybuild never executes commands"
                    )
                HANDLERS[type(step)](build, step)
        except PybuildError as error:
            message = error.message if isinstance(error, InstructionError) else str(error)
            raise InstructionError(f"{shown}: {message}", instruction.location) from None


def source_tree(build: Build, instruction: Copy) -> SourceTree:
    """The context, or the earlier stage that `--from` names."""
    reference = instruction.options.get("from")
    if reference is None:
        return build.context
    name = build.expand_text(reference)
    if not name:
        raise InstructionError(
            f"--from={reference} is empty here: name a stage, an image or a --build-context",
            flag_location(instruction, "from"),
        )
    stage = build.find_stage(name, before=build.stage.index)
    if stage is not None:
        return stage.files
    if name.isdigit():
        raise InstructionError(
            f"COPY --from={name}: there is no earlier stage {name}",
            flag_location(instruction, "from"),
        )
    named = build.named(name)
    if named is not None and named.kind == "directory":
        return BuildContext(Path(named.location), name=name)  # a local directory's files
    with located(flag_location(instruction, "from")):
        base = build.base_image(name, flag_location(instruction, "from"), build.stage.platform)
        return ImageFiles(name, base.files)


def copy_options(build: Build, instruction: Copy) -> CopyOptions:
    """--chown (names from the stage's /etc/passwd and /etc/group), --chmod, --exclude and
    --parents; --link changes nothing in the files, so it is accepted and has no effect."""
    options = instruction.options
    owner = None  # context files become root's; files from a stage keep their owners
    if "chown" in options:
        owner = parse_chown(
            build.expand_text(options["chown"]),
            build.stage.files.read_text("etc/passwd"),
            build.stage.files.read_text("etc/group"),
        )
    chmod = parse_chmod(build.expand_text(options["chmod"])) if "chmod" in options else None
    exclude = None
    if options.get("exclude"):
        exclude = IgnoreRules(
            [build.expand_text(pattern) for pattern in options["exclude"]], "--exclude"
        )
    return CopyOptions(owner, chmod, exclude, bool(options.get("parents")))


def dispatch_copy(build: Build, instruction: Copy) -> None:
    refuse_unsupported_options(instruction)
    options = copy_options(build, instruction)
    words = [Word(build.expand(source), source.location) for source in instruction.sources]
    refuse_remote_sources(instruction, words)
    urls = [word for word in words if is_url(word.text)]
    local = [word for word in words if not is_url(word.text)]
    sources = resolve_sources(source_tree(build, instruction), local) if local else []
    sources += [inline_file(build, instruction, heredoc) for heredoc in instruction.inline]
    if isinstance(instruction, Add):
        checksum = instruction.options.get("checksum")
        if checksum is not None and local:
            raise InstructionError(
                "checksum can't be specified for non-HTTP(S) sources",
                flag_location(instruction, "checksum"),
            )
        sources = [with_archive(build, source) for source in sources]
        sources += [downloaded(build, word, checksum) for word in urls]
    dest = Word(build.expand(instruction.dest), instruction.dest.location)
    workdir = build.stage.run.working_dir or "/"
    plan = plan_copy(
        build.stage.files,
        sources,
        dest,
        workdir=workdir,
        options=options,
        timestamps=build.timestamps,
    )
    layer = BuiltLayer.of(
        plan.entries, instruction.text, instruction.location, streams=plan.streams
    )
    build.stage.files.add(layer.entries)
    build.stage.record(instruction, layer)


def refuse_remote_sources(instruction: Copy, sources: list[Word]) -> None:
    """COPY never takes URLs; ADD of git repositories is not done yet."""
    for source in sources:
        if not isinstance(instruction, Add) and (is_url(source.text) or is_git(source.text)):
            raise InstructionError("source can't be a URL for COPY", source.location)
        if is_git(source.text):
            raise InstructionError(
                f"ADD from a git repository is not supported yet by pybuild ({source.text}); "
                "clone it beforehand and COPY it",
                source.location,
            )


def inline_file(build: Build, instruction: Copy, heredoc: Heredoc) -> ResolvedSource:
    """`COPY <<NAME`: a file called NAME holding the body, expanded unless NAME was quoted."""
    body = heredoc.body
    if heredoc.expand:
        with located(instruction.location):
            body = expand_heredoc(body, build.stage.scope(), build.escape)
    data = body.encode()
    item = SourceFile("", None, "file", 0o644, len(data), 0, data=data)
    word = Word(f"<<{heredoc.name}", instruction.location)
    return ResolvedSource(word, heredoc.name, f"<<{heredoc.name}", (item,), heredoc.name)


def downloaded(build: Build, word: Word, checksum: str | None) -> ResolvedSource:
    """A URL source of ADD: fetched once, never unpacked, mode 0600 (as Docker does)."""
    from .download import download  # urllib loads only for builds that download

    with located(word.location):
        fetched = download(word.text, build.scratch(), checksum, reporter=build.reporter)
    build.fetched.append(word.text)
    build.used(Material(word.text, fetched.digest))
    item = SourceFile(
        "",
        fetched.path,
        "file",
        0o600,
        fetched.size,
        fetched.mtime if fetched.mtime is not None else 0,
    )
    return ResolvedSource(word, fetched.name, word.text, (item,), fetched.name)


def with_archive(build: Build, source: ResolvedSource) -> ResolvedSource:
    """ADD extracts a local tar (plain or compressed, judged by content) instead of copying it."""
    path = Path(source.top.path) if source.top.path is not None else None
    kind = archive_kind(path) if source.top.kind == "file" and path is not None else None
    if kind is None or path is None:
        return source
    with located(source.word.location):
        tar = uncompressed_tar(path, kind, build.scratch())
    return replace(source, archive=tar)


def expanded_pairs(build: Build, pairs) -> list[tuple[str, str]]:
    """ENV/LABEL pairs, all expanded against the scope from before the line."""
    scope = build.stage.scope()
    expanded = []
    for pair in pairs:
        with located(pair.location):
            key, value = build.expand_text(pair.key, scope), build.expand_text(pair.value, scope)
        if not key:
            raise InstructionError("names can not be blank", pair.location)
        expanded.append((key, value))
    return expanded


def dispatch_env(build: Build, instruction: Env) -> None:
    for key, value in expanded_pairs(build, instruction.pairs):
        build.stage.set_env(key, value)
    build.stage.record(instruction)


def dispatch_label(build: Build, instruction: Label) -> None:
    build.stage.run = build.stage.run.with_labels(dict(expanded_pairs(build, instruction.pairs)))
    build.stage.record(instruction)


def dispatch_arg(build: Build, instruction: Arg) -> None:
    """Outside a stage: a global argument, usable in FROM and by stages that declare it again.
    Inside: the value is the build argument, else the default, else the global's value."""
    in_stage = bool(build.stages)
    for declaration in instruction.declarations:
        key = declaration.key
        build.declared.add(key)
        if key in build.build_args:
            value: str | None = build.build_args[key]
        elif declaration.default is not None:
            scope = build.stage.scope() if in_stage else build.meta_scope()
            value = build.expand(Word(declaration.default, declaration.location), scope)
        else:  # the global's value; before FROM, an automatic one (TARGETARCH) stays set
            value = build.meta_args.get(key)
        if not in_stage:
            build.meta_args[key] = value
        elif value is not None:
            build.stage.args[key] = value


def dispatch_user(build: Build, instruction: User) -> None:
    user = build.expand(instruction.user)
    for part in user.split(":", 1):
        if part.isdigit() and int(part) > MAX_ID:  # names are looked up when the image runs
            raise InstructionError(f"USER {user}: {part} is beyond the largest id, {MAX_ID}")
    build.stage.run = replace(build.stage.run, user=user)
    build.stage.record(instruction)


def dispatch_volume(build: Build, instruction: Volume) -> None:
    volumes = []
    for word in instruction.paths:
        path = build.expand(word)
        if not path:
            raise InstructionError("VOLUME specified can not be an empty string", word.location)
        volumes.append(path)
    build.stage.run = build.stage.run.with_volumes(volumes)
    build.stage.record(instruction)


def dispatch_stopsignal(build: Build, instruction: Stopsignal) -> None:
    value = build.expand(instruction.signal)
    if not is_signal(value):
        raise InstructionError(f"Invalid signal: {value}", instruction.signal.location)
    build.stage.run = replace(build.stage.run, stop_signal=value)
    build.stage.record(instruction)


def is_signal(value: str) -> bool:
    """A signal number, or a name with or without SIG (SIGRTMIN+3 too), as Docker accepts."""
    if value.isdigit():
        return 0 < int(value) <= 64
    name = value.upper().removeprefix("SIG")
    return f"SIG{name}" in signal.Signals.__members__ or bool(
        re.fullmatch(r"RT(MIN|MAX)([+-]\d+)?", name)
    )


def dispatch_maintainer(build: Build, instruction: Maintainer) -> None:
    build.stage.author = instruction.name
    build.stage.record(instruction)


DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
NANOSECONDS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


def parse_duration(text: str) -> int:
    """A Go duration ("30s", "1m30s", "500ms") in nanoseconds."""
    if text in ("0", ""):
        return 0
    position, total = 0, 0.0
    for match in DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * NANOSECONDS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise InstructionError(f"invalid duration {text!r} (e.g. 30s, 1m30s, 500ms)")
    if total > MAX_DURATION:  # Docker keeps durations as int64 nanoseconds
        raise InstructionError(f"invalid duration {text!r}: longer than about 292 years")
    return int(total)


MAX_DURATION = 2**63 - 1


def dispatch_healthcheck(build: Build, instruction: Healthcheck) -> None:
    if instruction.command is None:
        build.stage.run = replace(build.stage.run, healthcheck=HealthcheckConfig(("NONE",)))
        build.stage.record(instruction)
        return
    command = instruction.command
    test = (
        ("CMD", *command.exec_form)
        if command.exec_form is not None
        else ("CMD-SHELL", command.shell_form or "")
    )
    durations: dict[str, int] = {}
    for name, field_name in HealthcheckConfig.FIELDS:
        flag = name.replace("_", "-")  # start_period is --start-period
        if name == "retries" or flag not in instruction.options:
            continue
        with located(flag_location(instruction, flag)):
            nanoseconds = parse_duration(instruction.options[flag])
        if 0 < nanoseconds < 1_000_000:
            raise InstructionError(
                f"{field_name} {instruction.options[flag]!r} cannot be less than 1ms",
                flag_location(instruction, flag),
            )
        durations[name] = nanoseconds
    retries = 0
    if "retries" in instruction.options:
        text = instruction.options["retries"]
        if not text.lstrip("-").isdigit():
            raise InstructionError(
                f"--retries must be a number, not {text!r}", flag_location(instruction, "retries")
            )
        retries = int(text)
        if retries < 0:
            raise InstructionError(
                "--retries cannot be negative", flag_location(instruction, "retries")
            )
    build.stage.run = replace(
        build.stage.run, healthcheck=HealthcheckConfig(test, retries=retries, **durations)
    )
    build.stage.record(instruction)


def dispatch_shell(build: Build, instruction: Shell) -> None:
    build.stage.run = replace(build.stage.run, shell=tuple(instruction.shell))
    build.stage.record(instruction)


def dispatch_onbuild(build: Build, instruction: Onbuild) -> None:
    build.stage.run = replace(
        build.stage.run, on_build=(*(build.stage.run.on_build or ()), instruction.trigger)
    )
    build.stage.record(instruction)


def parse_port(spec: str) -> list[str]:
    """'80' -> ['80/tcp']; '53/UDP' -> ['53/udp']; '8000-8002' -> three ports. An IP and a host
    port before the container port (`ip:host:container`) are accepted and ignored, as Docker does."""
    port, _, protocol = spec.partition("/")
    protocol = (protocol or "tcp").lower()
    if protocol not in PROTOCOLS:
        raise InstructionError(f"invalid protocol {protocol!r} in EXPOSE {spec} (tcp, udp or sctp)")
    port = port.rpartition(":")[2]
    if not port:
        raise InstructionError(f"invalid port {spec!r}: no port specified")
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
    ports: list[str] = []
    for word in instruction.ports:
        with located(word.location):
            for spec in expand_words(word.text, build.stage.scope(), build.escape):
                ports += parse_port(spec)
    build.stage.run = build.stage.run.with_ports(ports)
    build.stage.record(instruction)


def dispatch_cmd(build: Build, instruction: Cmd) -> None:
    build.stage.run = replace(
        build.stage.run, cmd=tuple(shell_command(build.stage, instruction.command))
    )
    build.stage.cmd_set = True
    build.stage.record(instruction)


def dispatch_entrypoint(build: Build, instruction: Entrypoint) -> None:
    entrypoint = tuple(shell_command(build.stage, instruction.command))
    run = replace(build.stage.run, entrypoint=entrypoint or None)  # ENTRYPOINT [] resets it
    if not build.stage.cmd_set:
        run = replace(run, cmd=None)  # an inherited CMD does not survive a new ENTRYPOINT
    build.stage.run = run
    build.stage.record(instruction)


def dispatch_workdir(build: Build, instruction: Workdir) -> None:
    stage = build.stage
    requested = build.expand(instruction.path)
    current = stage.run.working_dir or "/"
    # As BuildKit: an absolute path is kept as written (`/tmp/` stays `/tmp/`); a relative one
    # is joined to the current directory and cleaned.
    if requested.startswith("/"):
        workdir = requested
    else:
        workdir = posixpath.normpath(posixpath.join("/", current, requested))
    stage.run = replace(stage.run, working_dir=workdir)
    path = stage.files.resolve(image_path(posixpath.normpath(workdir)))  # through symlinks
    if stage.files.is_dir(path):
        stage.record(instruction)
        return
    # Like the classic builder, WORKDIR makes the directory and commits it as a layer.
    mtime = build.timestamps.file_mtime(None)
    entries = stage.files.with_parents(
        {path: stage.files.directory(path, 0, 0, mtime=mtime)}, 0, 0, mtime=mtime
    )
    layer = BuiltLayer.of(entries, instruction.text, instruction.location)
    stage.files.add(layer.entries)
    stage.record(instruction, layer)


def dispatch_unsupported(build: Build, instruction: Unsupported) -> None:
    raise InstructionError(
        "RUN is not supported: pybuild never executes commands. Build the artifact "
        "beforehand (e.g. a static binary) and COPY it into the image"
    )


HANDLERS: dict[type, Callable[[Build, Any], None]] = {
    From: dispatch_from,
    Copy: dispatch_copy,
    Add: dispatch_copy,
    Env: dispatch_env,
    Label: dispatch_label,
    Arg: dispatch_arg,
    User: dispatch_user,
    Volume: dispatch_volume,
    Stopsignal: dispatch_stopsignal,
    Maintainer: dispatch_maintainer,
    Healthcheck: dispatch_healthcheck,
    Shell: dispatch_shell,
    Onbuild: dispatch_onbuild,
    Expose: dispatch_expose,
    Cmd: dispatch_cmd,
    Entrypoint: dispatch_entrypoint,
    Workdir: dispatch_workdir,
    Unsupported: dispatch_unsupported,
}


def automatic_args(target: Platform) -> dict[str, str]:
    """The platform arguments BuildKit defines before the first FROM."""
    build = host_platform()
    return {
        "TARGETPLATFORM": str(target),
        "TARGETOS": target.os,
        "TARGETARCH": target.architecture,
        "TARGETVARIANT": target.variant,
        "BUILDPLATFORM": str(build),
        "BUILDOS": build.os,
        "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant,
    }


def split_stages(dockerfile: Dockerfile) -> tuple[list[Instruction], list[list[Instruction]]]:
    """Instructions before the first FROM (only ARG may be there), then one list per stage."""
    meta: list[Instruction] = []
    stages: list[list[Instruction]] = []
    for instruction in dockerfile.instructions:
        if isinstance(instruction, From):
            stages.append([instruction])
        elif stages:
            stages[-1].append(instruction)
        elif isinstance(instruction, Arg):
            meta.append(instruction)
        else:
            raise InstructionError(
                f"{instruction.keyword.upper()} before FROM: a Dockerfile starts with FROM "
                "(only ARG may come before it)",
                instruction.location,
            )
    if not stages:
        raise InstructionError(
            "no FROM: a Dockerfile needs at least one stage", dockerfile.instructions[0].location
        )
    return meta, stages


VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _stage_args(build: Build, stage: list[Instruction], upto: Instruction) -> dict[str, str]:
    """The ARGs the stage declares before `upto`, with the values dispatch_arg gives them: what a
    `--from=$VAR` can see before the stage is evaluated (a global ARG only once the stage
    declares it again; ENV is not known yet)."""
    scope: dict[str, str] = {}
    for instruction in stage[1 : stage.index(upto)]:
        if isinstance(instruction, Arg):
            for declaration in instruction.declarations:
                if declaration.key in build.build_args:
                    scope[declaration.key] = build.build_args[declaration.key]
                elif declaration.default is not None:
                    scope[declaration.key] = expand_word(declaration.default, scope, build.escape)
                elif (value := build.meta_args.get(declaration.key)) is not None:
                    scope[declaration.key] = value
    return scope


def needed_stages(
    build: Build, stages: list[list[Instruction]], target: int
) -> dict[int, Instruction | None]:
    """The target and every stage it builds on or copies from, each with the instruction that
    needs it (None for the target); the rest is not built. References with variables are
    resolved from the global ARGs (FROM) and the stage's ARGs (--from); one that cannot be
    resolved keeps every earlier stage. A stage replaced by a --build-context of its name is
    needed, but not what it would have used."""
    names = [stage_from(stage).stage_name for stage in stages]

    def refers_to(reference: str, before: int, scope: dict[str, str]) -> set[int]:
        if any(name not in scope for name in VARIABLE.findall(reference)):
            return set(range(before))  # depends on something only the evaluation knows
        try:
            reference = expand_word(reference, scope, build.escape).lower()
        except InstructionError:
            return set(range(before))
        if reference in names[:before]:
            return {names.index(reference)}
        return {int(reference)} if reference.isdigit() and int(reference) < before else set()

    needed: dict[int, Instruction | None] = {}
    pending: list[tuple[int, Instruction | None]] = [(target, None)]
    while pending:
        index, by = pending.pop()
        if index in needed:
            continue
        needed[index] = by
        if _replaced(build, names[index]):
            continue  # replaced: nothing of it is evaluated
        first = stage_from(stages[index])
        pending += [
            (used, first) for used in refers_to(first.image.text, index, build.meta_scope())
        ]
        for instruction in stages[index][1:]:
            if "from" in instruction.options:
                scope = _stage_args(build, stages[index], instruction)
                pending += [
                    (used, instruction)
                    for used in refers_to(instruction.options["from"], index, scope)
                ]
    return needed


def _replaced(build: Build, stage_name: str | None) -> bool:
    """Whether a --build-context of the stage's name stands in for it."""
    return stage_name is not None and build.named(stage_name) is not None


def refuse_run(
    stages: list[list[Instruction]],
    needed: dict[int, Instruction | None],
    build: Build,
    *,
    chosen: bool,
) -> None:
    """Before anything is evaluated or pulled: a RUN in a stage the image needs is an error at
    the RUN, saying which line needs that stage and how to go on without running it (`chosen`:
    the target was named by --target)."""
    for index in sorted(needed):
        name = stage_from(stages[index]).stage_name
        if _replaced(build, name):
            continue
        run = next((i for i in stages[index] if isinstance(i, Unsupported)), None)
        if run is None:
            continue
        by = needed[index]
        if by is None:
            why = (
                "it is in the stage the image is made of: build what it makes beforehand "
                "and COPY that in instead"
            )
            if not chosen and len(stages) > 1:
                why += " (this is the last stage; --target names another)"
        elif name:
            why = (
                f"it is in stage {name}, which the image needs: `{by.text}` at line "
                f"{by.location.line}. Build that stage elsewhere (e.g. docker build --target "
                f"{name}) and pass its result with --build-context {name}=DIR (its files) "
                f"or {name}=docker-archive:FILE, or COPY a prebuilt artifact instead"
            )
        else:  # only a named stage can be built alone or replaced by a named context
            why = (
                f"it is in stage {index}, which has no name and which the image needs: "
                f"`{by.text}` at line {by.location.line}. Name it (FROM ... AS builder, and "
                "COPY --from=builder), build it elsewhere (docker build --target builder) and "
                "pass its result with --build-context builder=DIR, or COPY a prebuilt "
                "artifact instead"
            )
        raise InstructionError(
            f"RUN is not supported: pybuild never executes commands, and {why}", run.location
        )


def find_target(stages: list[list[Instruction]], target: str | None) -> int:
    if target is None:
        return len(stages) - 1
    for index, stage in enumerate(stages):
        if stage_from(stage).stage_name == target.lower():
            return index
    raise InstructionError(f"target stage {target!r} could not be found")


def evaluate(
    dockerfile: Dockerfile,
    context: BuildContext,
    *,
    platform: Platform,
    timestamps: Timestamps,
    build_args: dict[str, str] | None = None,
    target: str | None = None,
    labels: dict[str, str] | None = None,
    scratch: Path | None = None,
    build_contexts: dict[str, str] | None = None,
    registry: RegistryAccess | None = None,
    reporter: Reporter = QUIET,
    store: BlobStore = NO_CACHE,
    record_steps: bool = True,
) -> Evaluation:
    """Evaluate the stages the target needs, in order; the target stage is the image.
    `scratch` is a directory that lives until the image is written (decompressed archives).
    Without `record_steps` the evaluation's steps are empty (what explain shows)."""
    build = Build(
        context,
        timestamps,
        platform,
        dockerfile.escape,
        dict(build_args or {}),
        scratch_dir=scratch,
        named_contexts={
            context_key(name): parse_named_context(name, value)
            for name, value in (build_contexts or {}).items()
        },
        registry=registry,
        reporter=reporter,
        store=store,
        record_steps=record_steps,
    )
    build.meta_args.update(automatic_args(platform))
    meta, stages = split_stages(dockerfile)
    for instruction in meta:
        run_instruction(build, instruction)
    target_index = find_target(stages, target)
    needed = needed_stages(build, stages, target_index)
    refuse_run(stages, needed, build, chosen=target is not None)
    for index, stage in enumerate(stages[: target_index + 1]):
        if index not in needed or _replaced(build, stage_from(stage).stage_name):
            build.stages.append(None)  # not built: unused, or its --build-context stands in
            continue
        for instruction in stage:
            run_instruction(build, instruction)
    final = build.stages[target_index]
    assert final is not None
    if labels:
        final.run = final.run.with_labels(labels)
    steps = tuple(_placed(step, final, build, target=target_index) for step in build.steps)
    unused = sorted(set(build.build_args) - build.declared - PREDEFINED_ARGS)
    warnings = tuple(
        f"build argument {name} was not consumed: no ARG declares it" for name in unused
    )
    config = ImageConfig(
        final.platform, timestamps.created, final.run, tuple(final.history), final.author
    )
    return Evaluation(
        Image(tuple(final.layers), config),
        steps,
        warnings,
        tuple(build.fetched),
        tuple(build.materials.values()),
    )


def base_material(
    name: str, named: NamedContext | None, platform: Platform, *, base: BaseImage
) -> Material:
    """A base image as provenance names it: `pkg:docker/NAME?platform=...` for a pulled one
    (a tag as `@TAG`), the --build-context (`KIND:LOCATION`) for a local one."""
    if named is not None and named.kind != "docker-image":  # by its file's name alone: no
        # path of the building machine goes into an image, and moving the file changes nothing
        return Material(
            f"{named.kind}:{posixpath.basename(named.location.rstrip('/'))}", base.digest
        )
    text = named.location if named is not None else name
    text, _, _ = text.partition("@")
    path, _, tag = text.rpartition(":") if ":" in text.rsplit("/", 1)[-1] else (text, "", "")
    where = urllib.parse.quote(str(platform), safe="")
    return Material(f"pkg:docker/{path}{'@' + tag if tag else ''}?platform={where}", base.digest)


def _placed(step: Step, final: Stage, build: Build, *, target: int) -> Step:
    """The step, told whether its stage is in the image and where its layer stands there."""
    number = next(
        (
            place
            for place, layer in enumerate(final.layers, start=1)
            if step.layer is not None and layer is step.layer
        ),
        None,
    )
    in_image = step.stage is not None and _ancestry(build, target, step.stage)
    return replace(step, in_image=in_image, layer_number=number if in_image else None)


def _ancestry(build: Build, target: int, stage: int) -> bool:
    """Whether `stage` is the target or a stage the target was built FROM (its layers and
    history are in the image)."""
    current: Stage | None = build.stages[target]
    while current is not None:
        if current.index == stage:
            return True
        current = current.base
    return False


def run_instruction(build: Build, instruction: Instruction) -> None:
    """Dispatch one instruction, add its location to any error, and record what it did."""
    if not build.record_steps:
        with located(instruction.location):
            HANDLERS[type(instruction)](build, instruction)
        return
    stage = build.stages[-1] if build.stages else None
    before = _snapshot(build, stage)
    excluded_before = len(build.context.excluded)
    with located(instruction.location):
        HANDLERS[type(instruction)](build, instruction)
    stage = build.stages[-1] if build.stages else None
    after = _snapshot(build, stage)
    if isinstance(instruction, From):  # FROM sets the whole starting config, adds nothing
        before = _Snapshot(RunConfig(), "", after.scope, after.layers, after.history)
    build.steps.append(
        Step(
            instruction,
            stage.index if stage else None,
            stage.name if stage else None,
            before.run,
            after.run,
            before.author,
            after.author,
            after.scope,
            stage.layers[-1] if stage is not None and after.layers > before.layers else None,
            stage.history[-1] if stage is not None and after.history > before.history else None,
            tuple(build.context.excluded[excluded_before:]),
        )
    )


@dataclass(frozen=True)
class _Snapshot:
    run: RunConfig
    author: str
    scope: dict[str, str]
    layers: int
    history: int


def _snapshot(build: Build, stage: Stage | None) -> _Snapshot:
    """The current stage's state; cheap, since its run config is immutable."""
    if stage is None:
        return _Snapshot(RunConfig(), "", build.meta_scope(), 0, 0)
    scope = dict(stage.scope())
    return _Snapshot(stage.run, stage.author, scope, len(stage.layers), len(stage.history))
