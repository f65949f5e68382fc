"""Typed Dockerfile instructions: what the evaluator receives from the parser.

Values are kept as written (quotes and `$VAR` intact); expansion happens in the evaluator, because
it depends on the build state (ENV and ARG values in scope).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Location


@dataclass(frozen=True)
class Word:
    """One argument as written, with where it starts."""

    text: str
    location: Location


@dataclass(frozen=True)
class Flag:
    """`--name=value` (or a bare `--name`, whose value is None)."""

    name: str
    value: str | None
    location: Location

    @property
    def raw(self) -> str:
        return f"--{self.name}" if self.value is None else f"--{self.name}={self.value}"


@dataclass(frozen=True, kw_only=True)
class Instruction:
    """Common to all instructions: the keyword as written, its position and its logical text."""

    keyword: str
    location: Location
    text: str
    flags: tuple[Flag, ...]
    options: Mapping[str, Any] = field(default_factory=dict)  # flag values, checked (flags.py)

    def flag(self, name: str) -> Flag | None:
        """Where `--name` was written, for messages about its value."""
        found = [flag for flag in self.flags if flag.name == name]
        return found[-1] if found else None


@dataclass(frozen=True, kw_only=True)
class From(Instruction):
    """FROM [--platform=P] IMAGE [AS NAME]"""

    image: Word
    stage_name: str | None


@dataclass(frozen=True)
class Heredoc:
    """A here-document: `<<NAME` (or `<<-NAME`, or a quoted NAME) and the lines that follow."""

    name: str
    body: str  # the lines up to the terminator, each ending in "\n"
    expand: bool  # False when any part of the delimiter was quoted
    chomp: bool  # `<<-`: leading tabs are stripped (COPY/ADD strip them from the body)


@dataclass(frozen=True, kw_only=True)
class Copy(Instruction):
    """COPY [--chown=U[:G]] SRC... DEST  or  COPY ["SRC", ..., "DEST"]  or  COPY <<EOF DEST"""

    sources: tuple[Word, ...]
    dest: Word
    inline: tuple[Heredoc, ...] = ()  # heredoc sources: files named after their delimiter


@dataclass(frozen=True, kw_only=True)
class Add(Copy):
    """ADD [--chown=U[:G]] SRC... DEST: COPY plus archive extraction and URLs."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    location: Location


@dataclass(frozen=True, kw_only=True)
class Env(Instruction):
    """ENV KEY=VALUE ...  or the legacy  ENV KEY VALUE (the rest of the line is the value)."""

    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, kw_only=True)
class Expose(Instruction):
    """EXPOSE PORT[/PROTO] ...; ranges like 8000-8002; words may expand to several ports."""

    ports: tuple[Word, ...]


@dataclass(frozen=True)
class Command:
    """An exec-form argument list, or shell-form text that the stage's shell will run."""

    exec_form: tuple[str, ...] | None
    shell_form: str | None


@dataclass(frozen=True, kw_only=True)
class Cmd(Instruction):
    """CMD ["exe", "arg"]  or  CMD command line"""

    command: Command


@dataclass(frozen=True, kw_only=True)
class Entrypoint(Instruction):
    """ENTRYPOINT ["exe", "arg"]  or  ENTRYPOINT command line"""

    command: Command


@dataclass(frozen=True, kw_only=True)
class Workdir(Instruction):
    """WORKDIR PATH (absolute, or relative to the previous WORKDIR)"""

    path: Word


@dataclass(frozen=True, kw_only=True)
class Unsupported(Instruction):
    """RUN: parsed so that its position can be reported; pybuild never executes it."""

    args: str


@dataclass(frozen=True)
class ArgDeclaration:
    key: str
    default: str | None  # None: declared without a default (`ARG X`), unlike `ARG X=`
    location: Location


@dataclass(frozen=True, kw_only=True)
class Arg(Instruction):
    """ARG NAME[=DEFAULT] ...; before the first FROM it declares a global (meta) argument."""

    declarations: tuple[ArgDeclaration, ...]


@dataclass(frozen=True, kw_only=True)
class Label(Instruction):
    """LABEL KEY=VALUE ...  or the legacy  LABEL KEY VALUE"""

    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, kw_only=True)
class User(Instruction):
    """USER NAME[:GROUP] or UID[:GID] (the rest of the line)"""

    user: Word


@dataclass(frozen=True, kw_only=True)
class Volume(Instruction):
    """VOLUME /path ...  or  VOLUME ["/path", ...]"""

    paths: tuple[Word, ...]


@dataclass(frozen=True, kw_only=True)
class Stopsignal(Instruction):
    """STOPSIGNAL SIGNAL (a name like SIGTERM, or a number)"""

    signal: Word


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    """MAINTAINER NAME (deprecated; sets the image's author)"""

    name: str


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    """HEALTHCHECK NONE  or  HEALTHCHECK [--interval=D ...] CMD command"""

    command: Command | None  # None for NONE


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    """SHELL ["executable", "parameters"]: the shell later shell forms run in"""

    shell: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Onbuild(Instruction):
    """ONBUILD INSTRUCTION: stored in the config, run by builds that use this image as a base"""

    trigger: str


KNOWN_KEYWORDS = frozenset(
    "add arg cmd copy entrypoint env expose from healthcheck label maintainer onbuild run shell "
    "stopsignal user volume workdir".split()
)


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: its instructions and the escape character its directive chose
    (expansion needs it too)."""

    instructions: tuple[Instruction, ...]
    escape: str = "\\"
    directives: Mapping[str, str] = field(default_factory=dict)  # escape, syntax, check
