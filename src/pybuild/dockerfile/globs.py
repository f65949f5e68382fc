"""Glob patterns as regular expressions, for the two dialects a Dockerfile meets: Go's
filepath.Match for COPY/ADD sources (wildcards stop at `/`, `[^...]` negates, malformed patterns
are errors) and shell patterns in `${VAR#pat}` / `${VAR/pat/...}` (wildcards match anything,
`[!...]` or `[^...]` negate, malformed parts are literal)."""

from __future__ import annotations

import re


class BadPattern(ValueError):
    """A malformed pattern in a strict dialect."""


def glob_to_regex(pattern: str, *, any_char: str, negations: str, strict: bool) -> str:
    """Translate `*`, `?`, `[...]` and `\\x`; `any_char` is what `?` may match."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(any_char + "*")
        elif ch == "?":
            out.append(any_char)
        elif ch == "\\":
            if i + 1 == len(pattern):
                if strict:
                    raise BadPattern(f"syntax error in pattern {pattern!r}: trailing backslash")
                out.append(re.escape(ch))
            else:
                i += 1
                out.append(re.escape(pattern[i]))
        elif ch == "[":
            try:
                regex, i = _character_class(pattern, i, negations)
            except BadPattern:
                if strict:
                    raise
                regex = re.escape(ch)  # shell patterns: a malformed class is a literal "["
            lookahead = "" if any_char == "." or regex == re.escape(ch) else f"(?={any_char})"
            out.append(lookahead + regex)
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _character_class(pattern: str, start: int, negations: str) -> tuple[str, int]:
    """`[...]` at `start`, parsed as Go's filepath.Match does: non-empty, items are a character
    or a range `lo-hi`, `\\` escapes, a bare `-` or a leading `]` is malformed. Returns the
    regex and the index of the closing `]`."""

    def character(index: int) -> tuple[str, int]:
        if index >= len(pattern) or pattern[index] in "-]":
            raise BadPattern(f"syntax error in pattern {pattern!r}: bad character class")
        if pattern[index] == "\\":
            index += 1
            if index >= len(pattern):
                raise BadPattern(f"syntax error in pattern {pattern!r}: trailing backslash")
        return pattern[index], index + 1

    index = start + 1
    negate = index < len(pattern) and pattern[index] in negations
    index += negate
    items: list[str] = []
    while not (index < len(pattern) and pattern[index] == "]" and items):
        low, index = character(index)
        high = low
        if index < len(pattern) and pattern[index] == "-":
            high, index = character(index + 1)
        if low > high:
            raise BadPattern(
                f"syntax error in pattern {pattern!r}: bad character range {low}-{high}"
            )
        items.append(re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}")
    return f"[{'^' if negate else ''}{''.join(items)}]", index


def go_path_regex(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match: `*` and `?` never match `/`."""
    return re.compile(
        glob_to_regex(pattern, any_char="[^/]", negations="^", strict=True), re.DOTALL
    )


def shell_regex(pattern: str) -> re.Pattern[str]:
    """A shell pattern, as in `${VAR##*/}`."""
    return re.compile(glob_to_regex(pattern, any_char=".", negations="!^", strict=False), re.DOTALL)
