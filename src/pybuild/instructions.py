"""Typed Dockerfile instructions: what the evaluator receives from the parser.

Values are kept as written (quotes and `$VAR` intact); expansion happens in the evaluator, because
it depends on the build state (ENV and ARG values in scope).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Location


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


@dataclass(frozen=True)
class Instruction:
    """Common to all instructions: the keyword as written, its position and its logical text."""

    keyword: str
    location: Location
    text: str
    flags: tuple[Flag, ...]

    def flag(self, name: str) -> Flag | None:
        """The last occurrence of `--name`, as BuildKit lets a later flag win."""
        found = [flag for flag in self.flags if flag.name == name]
        return found[-1] if found else None


@dataclass(frozen=True)
class From(Instruction):
    """FROM [--platform=P] IMAGE [AS NAME]"""

    image: Word
    stage_name: str | None


@dataclass(frozen=True)
class Copy(Instruction):
    """COPY [--chown=U[:G]] SRC... DEST  or  COPY ["SRC", ..., "DEST"]"""

    sources: tuple[Word, ...]
    dest: Word


@dataclass(frozen=True)
class Add(Copy):
    """ADD [--chown=U[:G]] SRC... DEST: COPY plus archive extraction and URLs."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    location: Location


@dataclass(frozen=True)
class Env(Instruction):
    """ENV KEY=VALUE ...  or the legacy  ENV KEY VALUE (the rest of the line is the value)."""

    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True)
class Expose(Instruction):
    """EXPOSE PORT[/PROTO] ...; ranges like 8000-8002; words may expand to several ports."""

    ports: tuple[Word, ...]


@dataclass(frozen=True)
class Command:
    """An exec-form argument list, or shell-form text that the stage's shell will run."""

    exec_form: tuple[str, ...] | None
    shell_form: str | None


@dataclass(frozen=True)
class Cmd(Instruction):
    """CMD ["exe", "arg"]  or  CMD command line"""

    command: Command


@dataclass(frozen=True)
class Entrypoint(Instruction):
    """ENTRYPOINT ["exe", "arg"]  or  ENTRYPOINT command line"""

    command: Command


@dataclass(frozen=True)
class Workdir(Instruction):
    """WORKDIR PATH (absolute, or relative to the previous WORKDIR)"""

    path: Word


@dataclass(frozen=True)
class Unsupported(Instruction):
    """A known Dockerfile instruction that this version parses but does not evaluate."""

    args: str


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
