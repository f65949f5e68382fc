"""Raw instructions -> typed instructions: flags, JSON vs shell form, words, key=value pairs and
argument-count checks, each following BuildKit's parser so that the same text means the same."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypedDict, TypeVar

from ..errors import DockerfileSyntaxError, InstructionError, Location, did_you_mean
from .flags import read_flags
from .instructions import (
    KNOWN_KEYWORDS,
    Add,
    Arg,
    ArgDeclaration,
    Cmd,
    Command,
    Copy,
    Dockerfile,
    Entrypoint,
    Env,
    Expose,
    Flag,
    From,
    Healthcheck,
    Heredoc,
    Instruction,
    KeyValue,
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
from .parser import HEREDOC_MARKER, ParsedFile, RawInstruction

WHITESPACE = re.compile(r"[ \t\v\f\r]+")
CopyOrAdd = TypeVar("CopyOrAdd", bound=Copy)


class CommonFields(TypedDict):
    """The fields every instruction has (see Instruction), filled the same way for all."""

    keyword: str
    location: Location
    text: str
    flags: tuple[Flag, ...]
    options: Mapping[str, Any]


class NotStringArray(ValueError):
    """A valid JSON array holding something other than strings: an error, not shell form."""


def extract_flags(text: str) -> tuple[list[tuple[str, int]], int]:
    """Leading `--flag` words (quotes inside them removed) and the offset where the rest starts.
    A bare `--` ends the flags and is dropped."""
    flags: list[tuple[str, int]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith("--", pos):
            return flags, pos
        start, word, quote, quoted = pos, [], "", False
        while pos < len(text):
            ch = text[pos]
            if quote:
                if ch == quote:
                    quote = ""
                    pos += 1
                    continue
            elif ch.isspace():
                break
            elif ch in "'\"":
                quote, quoted = ch, True
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == len(text):
                    pos += 1
                    continue
                pos += 1
                ch = text[pos]
            word.append(ch)
            pos += 1
        flag = "".join(word)
        if flag == "--":
            return flags, pos
        if flag or quoted:
            flags.append((flag, start))


def trigger_problem(trigger: str) -> str:
    """Why `trigger` cannot be an ONBUILD trigger ("" when it can): checked when ONBUILD is
    written, and again when a base image's stored triggers run (another tool wrote those)."""
    if not trigger:
        return "ONBUILD requires at least one argument"
    keyword = trigger.split(None, 1)[0].upper()
    if keyword == "ONBUILD":
        return "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    if keyword in ("FROM", "MAINTAINER"):
        return f"{keyword} isn't allowed as an ONBUILD trigger"
    if keyword.lower() not in KNOWN_KEYWORDS:
        return f"unknown instruction in ONBUILD: {keyword}{did_you_mean(keyword, KNOWN_KEYWORDS)}"
    return ""


STAGE_NAME = re.compile(r"[a-z][a-z0-9_.-]*", re.ASCII)


def split_whitespace(text: str) -> list[tuple[str, int]]:
    """Words separated by blanks, quotes not respected (FROM, EXPOSE, shell-form COPY)."""
    return [(m.group(), m.start()) for m in re.finditer(r"[^ \t\v\f\r]+", text)]


def parse_words(text: str, escape: str) -> list[tuple[str, int]]:
    """Words separated by unquoted blanks, quotes and escapes kept (ENV, LABEL, ARG). Runs of
    ordinary characters are taken whole, so a 10 MB line costs about its length."""
    special = re.escape(escape)
    plain = re.compile(rf"[^\s'\"{special}]+")
    quoted = {'"': re.compile(rf'[^"{special}]+'), "'": re.compile(r"[^']+")}
    blanks = re.compile(r"\s+")
    words: list[tuple[str, int]] = []
    pos, end = 0, len(text)
    while True:
        if (gap := blanks.match(text, pos)) is not None:
            pos = gap.end()
        if pos >= end:
            return words
        start, parts, quote, blank_ok = pos, [], "", False
        while pos < end:
            run = (quoted[quote] if quote else plain).match(text, pos)
            if run is not None:
                parts.append(run.group())
                pos = run.end()
                continue
            ch = text[pos]
            if quote and ch == quote:
                quote = ""
            elif not quote and ch.isspace():
                break
            elif not quote and ch in "'\"":
                quote, blank_ok = ch, True
            elif pos + 1 == end:  # an escape as the last character: dropped (and a " closed)
                quote, pos = "", pos + 1
                continue
            else:  # an escape: kept, with the character it escapes
                parts.append(ch)
                pos += 1
                ch = text[pos]
            parts.append(ch)
            pos += 1
        word = "".join(parts)
        if blank_ok or word:
            words.append((word, start))


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_json_array(text: str) -> list[str] | None:
    """The strings of a JSON array, or None when `text` is not a JSON array (shell form then)."""
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # too deep for Go's decoder too: shell form
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise NotStringArray(
            "when using JSON array syntax, arrays must be comprised of strings only"
        )
    return value


class _Lowering:
    """Turns one RawInstruction into its typed form; `self.rest` is the text after the flags."""

    def __init__(self, raw: RawInstruction, escape: str):
        self.raw = raw
        self.escape = escape
        flags, rest_start = extract_flags(raw.args.text)
        self.flags = tuple(self._flag(text, offset) for text, offset in flags)
        self.rest_start = rest_start
        self.rest = raw.args.text[rest_start:]
        try:
            self.options = read_flags(raw.keyword.lower(), self.flags)
        except InstructionError as error:
            raise DockerfileSyntaxError(error.message, error.location) from None

    def _flag(self, text: str, offset: int) -> Flag:
        name, sep, value = text[2:].partition("=")
        return Flag(name, value if sep else None, self.raw.location_at(offset))

    def fail(self, message: str, offset: int | None = None) -> DockerfileSyntaxError:
        location = self.raw.location if offset is None else self.raw.location_at(offset)
        return DockerfileSyntaxError(message, location)

    def common(self) -> CommonFields:
        return CommonFields(
            keyword=self.raw.keyword,
            location=self.raw.location,
            text=self.raw.text,
            flags=self.flags,
            options=self.options,
        )

    def word(self, text: str, offset: int) -> Word:
        return Word(text, self.raw.location_at(self.rest_start + offset))

    def words(self) -> list[Word]:
        return [self.word(text, offset) for text, offset in split_whitespace(self.rest)]

    def json_or_words(self) -> list[Word]:
        """COPY/ADD/VOLUME arguments: a JSON array of strings, or blank-separated words."""
        try:
            array = parse_json_array(self.rest)
        except NotStringArray as error:
            raise self.fail(str(error), self.rest_start) from None
        if array is None:
            return self.words()
        start = len(self.rest) - len(self.rest.lstrip())
        return [self.word(item, start) for item in array]

    def command(self) -> Command:
        try:
            array = parse_json_array(self.rest)
        except NotStringArray as error:
            raise self.fail(str(error), self.rest_start) from None
        if array is not None:
            return Command(tuple(array), None)
        return Command(None, self.rest.strip())

    # One method per instruction, named after it.

    def from_(self) -> From:
        words = self.words()
        if len(words) == 3 and words[1].text.lower() == "as":
            name = words[2].text.lower()
            if not STAGE_NAME.fullmatch(name):  # BuildKit's rule: ASCII, a letter first
                raise self.fail(
                    f"invalid name for build stage: {words[2].text!r}, name can't start with a "
                    "number or contain symbols"
                )
            return From(**self.common(), image=words[0], stage_name=name)
        if len(words) != 1:
            raise self.fail("FROM requires either one or three arguments (FROM IMAGE [AS NAME])")
        return From(**self.common(), image=words[0], stage_name=None)

    def copy(self) -> Copy:
        return self._copy_or_add(Copy)

    def add(self) -> Add:
        return self._copy_or_add(Add)

    def _copy_or_add(self, kind: type[CopyOrAdd]) -> CopyOrAdd:
        """COPY and ADD share their syntax: sources and a destination, or heredocs."""
        words = self.json_or_words()
        inline: list[Heredoc] = []
        if self.raw.heredocs:
            pending = list(self.raw.heredocs)
            if HEREDOC_MARKER.match(words[-1].text):
                raise self.fail(
                    f"{self.raw.keyword.upper()} cannot accept a heredoc as a destination"
                )
            plain = []
            for word in words[:-1]:
                if pending and HEREDOC_MARKER.match(word.text):
                    heredoc = pending.pop(0)
                    if heredoc.chomp:  # COPY/ADD strip the tabs here; RUN leaves that to the shell
                        body = "".join(line.lstrip("\t") for line in heredoc.body.splitlines(True))
                        heredoc = replace(heredoc, body=body)
                    inline.append(heredoc)
                else:
                    plain.append(word)
            words = plain + words[-1:]
            if inline and len(words) == 1:
                return kind(**self.common(), sources=(), dest=words[0], inline=tuple(inline))
        if len(words) < 2:
            name = self.raw.keyword.upper()
            raise self.fail(
                f"{name} requires at least two arguments, but only {len(words)} "
                "provided. Destination could not be determined."
                if words
                else f"{name} requires at least two arguments (sources and a destination)"
            )
        return kind(
            **self.common(), sources=tuple(words[:-1]), dest=words[-1], inline=tuple(inline)
        )

    def name_values(self) -> tuple[KeyValue, ...]:
        """ENV/LABEL pairs: `K=V ...`, or the legacy `K V` where the rest of the line is V."""
        name = self.raw.keyword.upper()
        words = parse_words(self.rest, self.escape)
        if not words:
            raise self.fail(f"{name} requires at least one argument")
        if "=" not in words[0][0]:
            parts = WHITESPACE.split(self.rest.strip(), maxsplit=1)
            if len(parts) < 2:
                raise self.fail(
                    f"{name} must have two arguments ({name} KEY VALUE or {name} KEY=VALUE)"
                )
            location = self.raw.location_at(self.rest_start + words[0][1])
            return (KeyValue(parts[0], parts[1], location),)
        pairs = []
        for text, offset in words:
            if "=" not in text:
                raise self.fail(
                    f"Syntax error - can't find = in {text!r}. Must be of the form: name=value",
                    self.rest_start + offset,
                )
            key, _, value = text.partition("=")
            pairs.append(KeyValue(key, value, self.raw.location_at(self.rest_start + offset)))
        return tuple(pairs)

    def env(self) -> Env:
        return Env(**self.common(), pairs=self.name_values())

    def label(self) -> Label:
        return Label(**self.common(), pairs=self.name_values())

    def arg(self) -> Arg:
        words = parse_words(self.rest, self.escape)
        if not words:
            raise self.fail("ARG requires at least one argument")
        declarations = []
        for text, offset in words:
            key, sep, default = text.partition("=")
            if not key:
                raise self.fail("ARG names can not be blank", self.rest_start + offset)
            location = self.raw.location_at(self.rest_start + offset)
            declarations.append(ArgDeclaration(key, default if sep else None, location))
        return Arg(**self.common(), declarations=tuple(declarations))

    def one_argument(self) -> Word:
        """USER, STOPSIGNAL, WORKDIR: the whole rest of the line is the one argument."""
        text = self.rest.strip()
        if not text:
            raise self.fail(f"{self.raw.keyword.upper()} requires exactly one argument")
        return self.word(text, len(self.rest) - len(self.rest.lstrip()))

    def user(self) -> User:
        return User(**self.common(), user=self.one_argument())

    def stopsignal(self) -> Stopsignal:
        return Stopsignal(**self.common(), signal=self.one_argument())

    def maintainer(self) -> Maintainer:
        return Maintainer(**self.common(), name=self.one_argument().text)

    def volume(self) -> Volume:
        paths = self.json_or_words()
        if not paths:
            raise self.fail("VOLUME requires at least one argument")
        return Volume(**self.common(), paths=tuple(paths))

    def shell(self) -> Shell:
        try:
            array = parse_json_array(self.rest)
        except NotStringArray as error:
            raise self.fail(str(error), self.rest_start) from None
        if array is None:
            raise self.fail(
                'SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/sh", "-c"]'
            )
        if not array:
            raise self.fail("SHELL requires at least one argument")
        return Shell(**self.common(), shell=tuple(array))

    def healthcheck(self) -> Healthcheck:
        words = self.rest.strip().split(None, 1)
        if not words:
            raise self.fail("HEALTHCHECK requires at least one argument")
        kind = words[0].upper()
        if kind == "NONE":
            if len(words) > 1 or self.flags:
                raise self.fail("HEALTHCHECK NONE takes no arguments and no flags")
            return Healthcheck(**self.common(), command=None)
        if kind != "CMD":
            raise self.fail(f'Unknown type "{words[0]}" in HEALTHCHECK (try CMD)')
        if len(words) < 2:
            raise self.fail("Missing command after HEALTHCHECK CMD")
        self.rest_start += self.rest.index(words[1])
        self.rest = words[1]
        return Healthcheck(**self.common(), command=self.command())

    def onbuild(self) -> Onbuild:
        trigger = self.rest.strip()
        problem = trigger_problem(trigger)
        if problem:
            raise self.fail(problem)
        return Onbuild(**self.common(), trigger=trigger)

    def expose(self) -> Expose:
        words = self.words()
        if not words:
            raise self.fail("EXPOSE requires at least one argument")
        return Expose(**self.common(), ports=tuple(words))

    def cmd(self) -> Cmd:
        return Cmd(**self.common(), command=self.command())

    def entrypoint(self) -> Entrypoint:
        return Entrypoint(**self.common(), command=self.command())

    def workdir(self) -> Workdir:
        return Workdir(**self.common(), path=self.one_argument())

    def unsupported(self) -> Unsupported:
        return Unsupported(**self.common(), args=self.rest.strip())


LOWERINGS: dict[str, Callable[[_Lowering], Instruction]] = {
    "from": _Lowering.from_,
    "copy": _Lowering.copy,
    "add": _Lowering.add,
    "env": _Lowering.env,
    "expose": _Lowering.expose,
    "cmd": _Lowering.cmd,
    "entrypoint": _Lowering.entrypoint,
    "workdir": _Lowering.workdir,
    "arg": _Lowering.arg,
    "label": _Lowering.label,
    "user": _Lowering.user,
    "stopsignal": _Lowering.stopsignal,
    "maintainer": _Lowering.maintainer,
    "volume": _Lowering.volume,
    "shell": _Lowering.shell,
    "healthcheck": _Lowering.healthcheck,
    "onbuild": _Lowering.onbuild,
}


def lower_instruction(raw: RawInstruction, escape: str = "\\") -> Instruction:
    keyword = raw.keyword.lower()
    if keyword not in KNOWN_KEYWORDS:
        raise DockerfileSyntaxError(
            f"unknown instruction: {raw.keyword}{did_you_mean(raw.keyword, KNOWN_KEYWORDS)}",
            raw.location,
        )
    lowering = _Lowering(raw, escape)
    return LOWERINGS.get(keyword, _Lowering.unsupported)(lowering)


def lower(parsed: ParsedFile) -> Dockerfile:
    """Every instruction of the file in typed form; the first error stops with its position."""
    instructions = tuple(lower_instruction(raw, parsed.escape) for raw in parsed.instructions)
    return Dockerfile(instructions, parsed.escape, dict(parsed.directives))
