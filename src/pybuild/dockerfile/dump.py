"""BuildKit's AST dump (the `result` files of its parser fixtures): one `(keyword [flags] args...)`
line per instruction, values quoted like Go's strconv.Quote. Lets the parser be compared byte for
byte with BuildKit's."""

from __future__ import annotations

import unicodedata

from ..errors import DockerfileSyntaxError
from .lower import WHITESPACE, extract_flags, parse_json_array, parse_words, split_whitespace
from .parser import ParsedFile

GO_ESCAPES = {
    "\a": r"\a",
    "\b": r"\b",
    "\f": r"\f",
    "\n": r"\n",
    "\r": r"\r",
    "\t": r"\t",
    "\v": r"\v",
    '"': r"\"",
    "\\": r"\\",
}


def go_quote(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in GO_ESCAPES:
            out.append(GO_ESCAPES[ch])
        elif _printable(ch):
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _printable(ch: str) -> bool:
    """Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def _values(keyword: str, rest: str, escape: str) -> list[str]:
    if keyword in ("from", "expose"):
        return [word for word, _ in split_whitespace(rest)]
    if keyword in ("copy", "add", "volume"):
        array = parse_json_array(rest)
        return array if array is not None else [word for word, _ in split_whitespace(rest)]
    if keyword in ("cmd", "entrypoint", "run", "shell"):
        array = parse_json_array(rest)
        return array if array is not None else [rest.strip()]
    if keyword in ("env", "label"):
        words = parse_words(rest, escape)
        if not words:
            return []
        if "=" not in words[0][0]:
            parts = WHITESPACE.split(rest.strip(), maxsplit=1)
            if len(parts) < 2:
                raise ValueError(f"{keyword.upper()} must have two arguments")
            return [parts[0], parts[1], ""]
        triples: list[str] = []
        for word, _ in words:
            key, _, value = word.partition("=")
            triples += [key, value, "="]
        return triples
    if keyword == "arg":
        return [word for word, _ in parse_words(rest, escape)]
    if keyword == "healthcheck":
        kind_and_command = rest.strip().split(None, 1)
        if not kind_and_command:
            return []
        kind, *command = kind_and_command
        return [kind] + (_values("cmd", command[0], escape) if command else [])
    if keyword in ("user", "workdir", "stopsignal", "maintainer"):
        return [rest.strip()]
    return [""]


def dump_line(line: str, escape: str) -> str:
    """The dump of one logical line (keyword, flags, arguments)."""
    parts = WHITESPACE.split(line.strip(), maxsplit=1)
    keyword = parts[0].lower()
    rest, flags = "", []
    if len(parts) == 2:
        found, start = extract_flags(parts[1])
        flags, rest = [flag for flag, _ in found], parts[1][start:]
    pieces = [keyword]
    if flags:
        pieces.append("[" + " ".join(go_quote(flag) for flag in flags) + "]")
    if keyword == "onbuild":
        pieces.append(dump_line(rest, escape))
    else:
        pieces += [go_quote(value) for value in _values(keyword, rest, escape)]
    return "(" + " ".join(pieces) + ")"


def dump(parsed: ParsedFile) -> str:
    lines = []
    for raw in parsed.instructions:
        try:
            lines.append(dump_line(f"{raw.keyword} {raw.args.text}", parsed.escape))
        except ValueError as error:  # NotStringArray too: errors BuildKit's parser raises
            raise DockerfileSyntaxError(str(error), raw.location) from None
    return "".join(line + "\n" for line in lines)
