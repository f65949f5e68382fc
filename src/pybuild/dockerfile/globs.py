"""Glob patterns, for the dialects a Dockerfile meets: Go's filepath.Match for COPY/ADD
sources (wildcards stop at `/`, `[^...]` negates, malformed patterns are errors), shell patterns
in `${VAR#pat}` / `${VAR/pat/...}` (wildcards match anything, `[!...]` or `[^...]` negate,
malformed parts are literal) and .dockerignore's `**` (build/ignore.py). All are matched by
running an automaton over the text (Glob), never by a backtracking regex: a hostile pattern
like `a*a*a*a*b` costs length x pattern, not an exponential."""

from __future__ import annotations

import re


class BadPattern(ValueError):
    """A malformed pattern in a strict dialect."""


def character_class(pattern: str, start: int, negations: str) -> tuple[str, int]:
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


# Token kinds. DEEP is `**` at the end of a .dockerignore pattern (anything, `/` included);
# OPT then LOOP is `**/` there: either nothing, or anything that ends with `/`.
LITERAL, ANY, CLASS, STAR, DEEP, OPT, LOOP = range(7)


class Glob:
    """A glob matched by running its automaton over the text: the set of pattern positions
    reached so far advances one character at a time, so matching costs at most
    len(text) x len(pattern) whatever the stars. (Python's backtracking regex takes exponential
    time on `a*a*a*a*b` against a long run of `a`; Go's matchers do not, and neither may we.)"""

    def __init__(
        self,
        tokens: list[tuple[int, str | re.Pattern[str]]],
        anything: str,
        *,
        classes_cross_slash: bool = False,
    ):
        self.tokens = tokens
        self.anything = anything
        self.slash_ends_wildcards = anything == "[^/]"  # Go's filepath.Match dialect
        # Docker's patternmatcher passes `[...]` to a regex as it is: there a class may match
        # `/`, while `*` and `?` may not.
        self.classes_cross_slash = classes_cross_slash
        self._steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}  # a lazy DFA
        self._start = frozenset(self._closure({0}))

    def _matches(self, index: int, ch: str) -> bool:
        kind, value = self.tokens[index]
        if kind == LITERAL:
            return ch == value
        if kind == CLASS:
            assert isinstance(value, re.Pattern)
            if ch == "/" and self.slash_ends_wildcards and not self.classes_cross_slash:
                return False
            return value.fullmatch(ch) is not None
        return not (self.slash_ends_wildcards and ch == "/")  # ANY or STAR

    def _closure(self, states: set[int]) -> set[int]:
        """Add the positions reached without a character: past a star (which matches the empty
        string), and from OPT both into its loop and past it."""
        pending = list(states)
        while pending:
            index = pending.pop()
            if index >= len(self.tokens):
                continue
            kind = self.tokens[index][0]
            reached = {
                STAR: (index + 1,),
                DEEP: (index + 1,),
                OPT: (index + 1, index + 2),
            }.get(kind, ())
            for following in reached:
                if following not in states:
                    states.add(following)
                    pending.append(following)
        return states

    def _step(self, states: frozenset[int], ch: str) -> frozenset[int]:
        """The positions after reading `ch`, remembered: a set of states met once costs a dict
        lookup afterwards, so long texts match at about a regex's speed."""
        key = (states, ch)
        found = self._steps.get(key)
        if found is not None:
            return found
        end = len(self.tokens)
        following: set[int] = set()
        for index in states:
            if index == end:
                continue
            kind = self.tokens[index][0]
            if kind in (DEEP, LOOP):
                following.add(index)
                if kind == LOOP and ch == "/":
                    following.add(index + 1)
            elif kind != OPT and self._matches(index, ch):
                following.add(index if kind == STAR else index + 1)
        found = frozenset(self._closure(following))
        if len(self._steps) < 100_000:  # bounded: a hostile pattern cannot grow it forever
            self._steps[key] = found
        return found

    def prefixes(self, text: str) -> list[bool]:
        """For each length n from 0 to len(text): whether text[:n] matches the whole pattern."""
        end = len(self.tokens)
        states = self._start
        accepted = [end in states]
        for ch in text:
            states = self._step(states, ch)
            accepted.append(end in states)
            if not states:
                accepted += [False] * (len(text) + 1 - len(accepted))
                break
        return accepted

    def fullmatch(self, text: str) -> bool:
        return self.prefixes(text)[-1]

    def reversed(self) -> Glob:
        """The pattern read backwards: its prefixes of a reversed text are suffixes."""
        assert all(kind not in (OPT, LOOP) for kind, _ in self.tokens)
        return Glob(self.tokens[::-1], self.anything, classes_cross_slash=self.classes_cross_slash)


def compile_glob(pattern: str, *, any_char: str, negations: str, strict: bool) -> Glob:
    """Tokens of `*`, `?`, `[...]`, `\\x` and literals; `any_char` is what `?` may match
    (`[^/]` for Go's dialect), `negations` the characters that negate a class, and `strict`
    makes malformed parts errors (Go) rather than literals (shell)."""
    tokens: list[tuple[int, str | re.Pattern[str]]] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if not tokens or tokens[-1][0] != STAR:  # ** is * here
                tokens.append((STAR, ""))
        elif ch == "?":
            tokens.append((ANY, ""))
        elif ch == "\\":
            if i + 1 == len(pattern):
                if strict:
                    raise BadPattern(f"syntax error in pattern {pattern!r}: trailing backslash")
                tokens.append((LITERAL, ch))
            else:
                i += 1
                tokens.append((LITERAL, pattern[i]))
        elif ch == "[":
            try:
                regex, i = character_class(pattern, i, negations)
                tokens.append((CLASS, re.compile(regex, re.DOTALL)))
            except BadPattern:
                if strict:
                    raise
                tokens.append((LITERAL, ch))  # shell patterns: a malformed class is literal
        else:
            tokens.append((LITERAL, ch))
        i += 1
    return Glob(tokens, any_char)


def go_path_glob(pattern: str) -> Glob:
    """Go's filepath.Match: `*` and `?` never match `/`."""
    return compile_glob(pattern, any_char="[^/]", negations="^", strict=True)


def shell_glob(pattern: str) -> Glob:
    """A shell pattern, as in `${VAR##*/}`."""
    return compile_glob(pattern, any_char=".", negations="!^", strict=False)
