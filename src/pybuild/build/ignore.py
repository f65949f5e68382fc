"""`.dockerignore` with Docker's semantics (moby/patternmatcher): patterns are cleaned, `**`
crosses directories, `*` and `?` do not, a path is excluded when it or any parent directory
matches, and rules apply in order so a later `!pattern` can bring a path back."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from ..dockerfile.globs import (
    ANY,
    CLASS,
    DEEP,
    LITERAL,
    LOOP,
    OPT,
    STAR,
    BadPattern,
    Glob,
    character_class,
    go_path_glob,
)
from ..errors import ContextError


def clean(path: str) -> str:
    """Go's filepath.Clean for slash paths."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def read_ignore_file(text: str) -> list[str]:
    """The patterns of a .dockerignore file: BOM dropped, `#` lines (in column 1) skipped, lines
    trimmed and cleaned, a leading `/` dropped, `!` kept in front."""
    patterns = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


@dataclass(frozen=True)
class Rule:
    text: str
    exclusion: bool  # a `!` rule: brings paths back
    glob: Glob
    depth: int  # how many path components the pattern has


def _rule_glob(pattern: str) -> Glob:
    """A rule as Docker's patternmatcher reads it: `*` and `?` stop at `/`, `**` at the end
    matches anything, `**/` (or `**` inside) any number of whole directories, `\\x` is x.
    Matched by an automaton, in linear time whatever the stars."""
    tokens: list[tuple[int, str | re.Pattern[str]]] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*" and pattern[i + 1 : i + 2] == "*":
            i += 2
            if pattern[i : i + 1] == "/":
                i += 1
            tokens += [(DEEP, "")] if i >= len(pattern) else [(OPT, ""), (LOOP, "")]
            continue
        if ch == "*":
            tokens.append((STAR, ""))
        elif ch == "?":
            tokens.append((ANY, ""))
        elif ch == "[":
            regex, i = character_class(pattern, i, "^")
            tokens.append((CLASS, re.compile(regex, re.DOTALL)))
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            tokens.append((LITERAL, pattern[i]))
        else:
            tokens.append((LITERAL, ch))
        i += 1
    return Glob(tokens, "[^/]", classes_cross_slash=True)


class IgnoreRules:
    """The rules of one .dockerignore; `ignored(path)` says whether the context excludes path."""

    def __init__(self, patterns: list[str], source: str = ".dockerignore"):
        self.source = source
        self.rules: list[Rule] = []
        for raw in patterns:
            pattern = raw.strip()
            if not pattern:
                continue
            pattern = clean(pattern)
            exclusion = pattern.startswith("!")
            if exclusion:
                if len(pattern) == 1:
                    raise ContextError(f'{source}: illegal exclusion pattern: "!"')
                pattern = pattern[1:]
            try:
                go_path_glob(pattern)  # Docker rejects what filepath.Match rejects
                glob = _rule_glob(pattern)
            except (BadPattern, re.error) as error:
                raise ContextError(f"{source}: invalid pattern {raw!r}: {error}") from None
            self.rules.append(Rule(pattern, exclusion, glob, len(pattern.split("/"))))
        self.has_exclusions = any(rule.exclusion for rule in self.rules)

    def ignored(self, path: str) -> bool:
        """Docker's MatchesOrParentMatches: the path or any parent directory matches."""
        parent = clean(posixpath.dirname(path))  # Go's filepath.Dir: "a/b/" has parent "a/b"
        parents = parent.split("/") if parent != "." else []
        prefixes = ["/".join(parents[: n + 1]) for n in range(len(parents))]
        return self._apply(path, lambda rule: prefixes)

    def ignored_legacy(self, path: str) -> bool:
        """The deprecated Matches: the path is cleaned, `.` never matches, and only the parent
        prefix as deep as the pattern is tried. Kept to measure conformance with all vectors."""
        path = clean(path)
        if path == ".":
            return False
        parent = posixpath.dirname(path) or "."
        parents = parent.split("/") if parent != "." else []

        def prefixes(rule: Rule) -> list[str]:
            return ["/".join(parents[: rule.depth])] if rule.depth <= len(parents) else []

        return self._apply(path, prefixes)

    def _apply(self, path: str, prefixes_for) -> bool:
        matched = False
        for rule in self.rules:
            if rule.exclusion != matched:
                continue  # an inclusion once matched, or an exclusion before anything matched
            matched_at = rule.glob.prefixes(path)  # one pass answers the path and its parents
            hit = matched_at[-1] or any(
                matched_at[len(prefix)]
                if path.startswith(prefix + "/")
                else rule.glob.fullmatch(prefix)
                for prefix in prefixes_for(rule)
            )
            if hit:
                matched = not rule.exclusion
        return matched


def load_ignore_rules(context_dir: Path, dockerfile: Path | None) -> IgnoreRules | None:
    """`<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's `.dockerignore`
    (`dockerfile` None: a Dockerfile from stdin, which has nothing beside it)."""
    beside = [dockerfile.with_name(dockerfile.name + ".dockerignore")] if dockerfile else []
    for candidate in (*beside, context_dir / ".dockerignore"):
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8", errors="replace")
            return IgnoreRules(read_ignore_file(text), str(candidate))
    return None
