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
            start = i + 1
            negate = start < len(pattern) and pattern[start] in negations
            end = pattern.find("]", start + 1 + negate)
            if end < 0:
                if strict:
                    raise BadPattern(f"syntax error in pattern {pattern!r}: unclosed [")
                out.append(re.escape(ch))
            else:
                body = pattern[start + negate : end].replace("\\", "\\\\").replace("[", "\\[")
                lookahead = "" if any_char == "." else f"(?={any_char})"
                out.append(f"{lookahead}[{'^' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def go_path_regex(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match: `*` and `?` never match `/`."""
    return re.compile(glob_to_regex(pattern, any_char="[^/]", negations="^", strict=True), re.DOTALL)


def shell_regex(pattern: str) -> re.Pattern[str]:
    """A shell pattern, as in `${VAR##*/}`."""
    return re.compile(glob_to_regex(pattern, any_char=".", negations="!^", strict=False), re.DOTALL)
