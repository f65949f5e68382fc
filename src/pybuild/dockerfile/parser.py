"""Dockerfile text -> raw instructions: keyword and logical argument text, with positions.

Parser directives are read first (they choose the escape character the grammar needs); lark then
splits the file into blank lines, comments and instructions; continuation lines are joined here
exactly as BuildKit joins them, keeping for every character of the joined text where it came from.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace

import lark

from ..errors import DockerfileSyntaxError, InstructionError, Location
from .expand import expand_words, words_keeping_quotes
from .grammar import dockerfile_parser
from .instructions import Heredoc

DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
KNOWN_DIRECTIVES = ("escape", "syntax", "check")
BLANKS = " \t\f\v"
HEREDOC_MARKER = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")
HEREDOC_KEYWORDS = ("copy", "add", "run")


@dataclass(frozen=True)
class LogicalText:
    """Text joined from physical lines, with where each character came from: one segment
    (offset in the text, line, column) per physical line, so a 10 MB line costs no more than
    its text."""

    text: str
    segments: tuple[tuple[int, int, int], ...]
    end: tuple[int, int]

    def position(self, offset: int) -> tuple[int, int]:
        if not 0 <= offset < len(self.text) or not self.segments:
            return self.end
        index = bisect.bisect_right(self.segments, (offset, float("inf"))) - 1
        start, line, column = self.segments[index]
        return line, column + offset - start


@dataclass(frozen=True)
class RawInstruction:
    """One instruction as written: its keyword, the joined argument text, and its line span
    (heredoc bodies included)."""

    keyword: str
    args: LogicalText
    location: Location
    end_line: int
    lines: SourceLines
    heredocs: tuple[Heredoc, ...] = ()

    def location_at(self, offset: int) -> Location:
        """Location of character `offset` of the argument text."""
        line, column = self.args.position(offset)
        return self.lines.location(line, column)

    @property
    def text(self) -> str:
        """The logical line, as `docker history` and error messages show it."""
        rest = self.args.text.strip(BLANKS)
        return f"{self.keyword.upper()} {rest}" if rest else self.keyword.upper()


@dataclass(frozen=True)
class SourceLines:
    """The file's physical lines, to build locations that can show the offending line."""

    file: str
    lines: tuple[str, ...]

    def location(self, line: int, column: int) -> Location:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Location(self.file, line, column, source)


@dataclass(frozen=True)
class ParsedFile:
    file: str
    directives: dict[str, str]
    escape: str
    instructions: tuple[RawInstruction, ...]
    lines: SourceLines = field(repr=False)


def normalise_text(text: str) -> str:
    """Drop a UTF-8 BOM, fold CRLF to LF, end with a newline (the grammar expects one)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return text


def read_directives(lines: SourceLines) -> dict[str, str]:
    """Parser directives: only the unbroken run of `# key=value` lines at the very top counts."""
    found: dict[str, str] = {}
    for number, line in enumerate(lines.lines, start=1):
        match = DIRECTIVE.match(line.lstrip(BLANKS))
        if not match or match.group(1).lower() not in KNOWN_DIRECTIVES:
            break
        name = match.group(1).lower()
        if name in found:
            raise DockerfileSyntaxError(
                f"only one {name} parser directive can be used", lines.location(number, 1)
            )
        found[name] = match.group(2)
    escape = found.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileSyntaxError(
            f"invalid escape token '{escape}' does not match ` or \\", lines.location(1, 1)
        )
    return found


def start_of(token: lark.Token) -> tuple[int, int]:
    """The (line, column) where `token` starts."""
    # lark's stubs allow None, but the lexer sets both on every token it produces
    assert token.line is not None and token.column is not None, "lexed tokens have a position"
    return token.line, token.column


def is_continued(line: str, escape: str) -> bool:
    """A line continues when it ends in the escape character (blanks after it allowed) that is
    the whole line or follows a character other than the escape character."""
    body = line.rstrip(" \t")
    if not body.endswith(escape):
        return False
    return len(body) == 1 or body[-2] != escape


def join_args(token: lark.Token, escape: str) -> LogicalText:
    """Join the ARGS token's physical lines into the logical argument text, as BuildKit does:
    the escape character and trailing blanks are removed, nothing is inserted, continuation
    lines keep their indentation, and comment or blank lines inside a continuation are skipped."""
    pieces: list[str] = []
    segments: list[tuple[int, int, int]] = []
    length = 0
    physical = token.value.split("\n")
    line_no, first_col = start_of(token)
    end = (line_no, first_col)
    for index, line in enumerate(physical):
        number = line_no + index
        column0 = first_col if index == 0 else 1
        if index > 0:
            stripped = line.lstrip(BLANKS)
            if stripped == "" or stripped.startswith("#"):
                continue
        continued = is_continued(line, escape)
        if continued:
            line = line.rstrip(" \t")[:-1]
        if line:
            segments.append((length, number, column0))
            pieces.append(line)
            length += len(line)
        end = (number, column0 + len(line))
        if not continued:
            break
    return LogicalText("".join(pieces), tuple(segments), end)


def heredoc_markers(args: str, escape: str) -> list[tuple[str, bool, bool]]:
    """(name, expand, chomp) for each `<<NAME` word of an instruction line, as BuildKit finds
    them: a delimiter with any quoted part does not expand its body."""
    markers = []
    try:
        words = words_keeping_quotes(args, escape)
    except InstructionError:
        return []
    for word in words:
        match = HEREDOC_MARKER.match(word)
        if not match or not match.group(3):
            continue
        rest = match.group(3)
        try:
            plain, raw = expand_words(rest, {}, escape), words_keeping_quotes(rest, escape)
        except InstructionError:
            continue
        if len(plain) != 1 or len(raw) != 1:
            continue
        quotes = sum(plain[0].count(q) for q in "'\"")
        raw_quotes = sum(raw[0].count(q) for q in "'\"")
        markers.append((plain[0], quotes == raw_quotes, match.group(2) == "-"))
    return markers


def read_heredocs(
    physical: list[str],
    after_line: int,
    raw: RawInstruction,
    *,
    markers: list[tuple[str, bool, bool]],
) -> tuple[tuple[Heredoc, ...], int]:
    """The bodies of `markers`, one after the other, from the lines after `after_line`
    (1-based); returns them and the last line they use."""
    heredocs, index = [], after_line  # physical[index] is line index + 1
    for name, expand, chomp in markers:
        body: list[str] = []
        while True:
            if index >= len(physical) - 1:  # the last element is the text after the final \n
                raise DockerfileSyntaxError(f"unterminated heredoc <<{name}", raw.location)
            line = physical[index]
            index += 1
            if (line.lstrip("\t") if chomp else line) == name:
                break
            body.append(line + "\n")
        heredocs.append(Heredoc(name, "".join(body), expand, chomp))
    return tuple(heredocs), index


def _instructions(text: str, escape: str, lines: SourceLines) -> list[RawInstruction]:
    try:
        tree = dockerfile_parser(escape).parse(text)
    except lark.UnexpectedInput as error:
        raise DockerfileSyntaxError(
            "syntax error: a line cannot start here (a stray escape character?)",
            lines.location(max(error.line, 1), max(error.column, 1)),
        ) from None
    instructions = []
    for node in tree.children:
        assert isinstance(node, lark.Tree), "the grammar's start rule holds only instructions"
        keyword_token, args_token = node.children
        assert isinstance(keyword_token, lark.Token) and isinstance(args_token, lark.Token), (
            "an instruction is a KEYWORD and an ARGS terminal"
        )
        keyword = keyword_token.value.lstrip(BLANKS)
        indent = len(keyword_token.value) - len(keyword)
        keyword_line, keyword_column = start_of(keyword_token)
        location = lines.location(keyword_line, keyword_column + indent)
        args = join_args(args_token, escape)
        instructions.append(RawInstruction(keyword, args, location, args.end[0], lines))
    return instructions


def parse_dockerfile(text: str, file: str = "Dockerfile") -> ParsedFile:
    """Parse Dockerfile text into raw instructions; syntax errors carry their position.

    Heredoc bodies can hold anything (lines ending in the escape character, `#` lines), so
    they cannot be left to the grammar: the first instruction that opens a heredoc has its
    bodies read from the lines after it, those lines are blanked (line numbers stay true) and
    the text is parsed again from there."""
    text = normalise_text(text)
    lines = SourceLines(file, tuple(text[:-1].split("\n")))
    directives = read_directives(lines)
    escape = directives.get("escape", "\\")
    physical = text.split("\n")
    heredocs: dict[int, tuple[tuple[Heredoc, ...], int]] = {}  # line -> (bodies, last line)
    checked: set[int] = set()
    while True:
        instructions = _instructions("\n".join(physical), escape, lines)
        for raw in instructions:
            line = raw.location.line
            if line in checked or raw.keyword.lower() not in HEREDOC_KEYWORDS:
                continue
            checked.add(line)
            markers = heredoc_markers(raw.args.text, escape)
            if markers:
                bodies, last = read_heredocs(physical, raw.end_line, raw, markers=markers)
                for index in range(raw.end_line, last):
                    physical[index] = ""
                heredocs[line] = (bodies, last)
                break
        else:
            break
    instructions = [
        replace(
            raw, heredocs=heredocs[raw.location.line][0], end_line=heredocs[raw.location.line][1]
        )
        if raw.location.line in heredocs
        else raw
        for raw in instructions
    ]
    if not instructions:
        raise DockerfileSyntaxError("file with no instructions", lines.location(1, 1))
    return ParsedFile(file, directives, escape, tuple(instructions), lines)
