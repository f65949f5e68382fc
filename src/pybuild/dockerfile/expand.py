"""Variable expansion and word splitting with BuildKit's shell-lexer semantics (pure functions).

`expand_word` is BuildKit's ProcessWord: quotes removed, escapes processed, `$VAR` and `${VAR...}`
substituted, no splitting (ENV, LABEL, COPY/ADD, WORKDIR, USER, ...). `expand_words` is
ProcessWords: the same, then split on unquoted whitespace (EXPOSE). Errors are ExpansionError;
the evaluator adds the instruction's location.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import InstructionError
from .globs import STAR, shell_glob

SPECIAL_PARAMETERS = "@*#?-$!0"


class ExpansionError(InstructionError):
    """A malformed or failing `${...}` expression."""


class _Words:
    """Collects text into words, splitting on whitespace that was not quoted or escaped. Pieces
    are kept in lists and joined once: building a long word costs its length, not its square."""

    SPACE = re.compile(r"\s+")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.word: list[str] = []
        self.in_word = False

    def char(self, ch: str) -> None:
        if ch.isspace():
            self._end()
        else:
            self.raw(ch)

    def raw(self, text: str) -> None:
        self.word.append(text)
        self.in_word = True

    def text(self, text: str) -> None:
        """Text that splits where it has whitespace (an unquoted variable's value)."""
        pieces = self.SPACE.split(text)
        for index, piece in enumerate(pieces):
            if index:
                self._end()
            if piece:
                self.raw(piece)

    def _end(self) -> None:
        joined = "".join(self.word)
        if self.in_word and joined:
            self.words.append(joined)
            self.word, self.in_word = [], False

    def result(self) -> list[str]:
        joined = "".join(self.word)
        if joined:
            self.words.append(joined)
            self.word, self.in_word = [], False
        return self.words


MAX_DEPTH = 64  # ${a:-${b:-...}} nested deeper is refused (real Dockerfiles nest two or three)
MAX_SIZE = 16 << 20  # characters one expansion may produce (ARG A=$A$A doubling stops here)


class _Lexer:
    def __init__(
        self,
        source: str,
        env: Mapping[str, str],
        escape: str,
        *,
        quotes: bool = True,
        raw_quotes: bool = False,
    ):
        self.source = source
        self.pos = 0
        self.env = env
        self.escape = escape
        self.quotes = quotes  # False: quote characters are ordinary text (heredoc bodies)
        self.raw_quotes = raw_quotes  # True: quotes group words but stay in the text
        self.depth = 0  # how deep in ${...} the lexer is
        self.size = 0  # characters produced by variables so far

    def peek(self) -> str:
        return self.source[self.pos] if self.pos < len(self.source) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1 if ch else 0
        return ch

    def until(self, stop: str = "", raw_escapes: bool = False) -> tuple[str, list[str]]:
        """Process text up to `stop` (consumed) or the end; return the text and its words.
        With `raw_escapes` the escape character is kept (shell patterns need it)."""
        result: list[str] = []
        words = _Words()
        handlers = {"'": self.single_quoted, '"': self.double_quoted, "$": self.dollar}
        if not self.quotes:
            handlers = {"$": self.dollar}
        # Runs of characters with no meaning here are taken whole (a 10 MB value is one run).
        ordinary = re.compile("[^\\s" + re.escape("".join(handlers) + self.escape + stop) + "]+")
        while self.peek():
            run = ordinary.match(self.source, self.pos)
            if run is not None:
                words.raw(run.group())
                result.append(run.group())
                self.pos = run.end()
                continue
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.result()
            if ch in handlers:
                piece = handlers[ch]()
                result.append(piece)
                if ch == "$":
                    words.text(piece)
                else:
                    words.raw(piece)
                continue
            ch = self.next()
            if ch == self.escape:
                if raw_escapes:
                    words.raw(ch)
                    result.append(ch)
                ch = self.next()
                if not ch:
                    break
                words.raw(ch)
            else:
                words.char(ch)
            result.append(ch)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quoted(self) -> str:
        self.next()
        start = self.pos
        end = self.source.find("'", start)
        if end < 0:
            raise ExpansionError(
                "unexpected end of statement while looking for matching single-quote"
            )
        self.pos = end + 1
        text = self.source[start:end]
        return f"'{text}'" if self.raw_quotes else text

    def double_quoted(self) -> str:
        self.next()
        result: list[str] = []
        ordinary = re.compile('[^"$' + re.escape(self.escape) + "]+")
        while True:
            run = ordinary.match(self.source, self.pos)
            if run is not None:
                result.append(run.group())
                self.pos = run.end()
            ch = self.peek()
            if not ch:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.next()
                text = "".join(result)
                return f'"{text}"' if self.raw_quotes else text
            if ch == "$":
                result.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            result.append(ch)

    def name(self) -> str:
        """A variable name: letters, digits and `_`; or a run of digits; or one special character."""
        ch = self.peek()
        if ch.isdecimal():
            start = self.pos
            while self.peek().isdecimal():
                self.next()
            return self.source[start : self.pos]
        if ch and ch in SPECIAL_PARAMETERS:
            return self.next()
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.source[start : self.pos]

    def braced_word(self, stop: str = "}", raw_escapes: bool = False) -> str:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpansionError(f"variables are nested more than {MAX_DEPTH} deep")
        try:
            word, _ = self.until(stop, raw_escapes)
        except ExpansionError:
            if not self.peek():
                raise ExpansionError("syntax error: missing '}'") from None
            raise
        finally:
            self.depth -= 1
        return word

    def produced(self, value: str) -> str:
        """A variable's value, counted against MAX_SIZE."""
        self.size += len(value)
        if self.size > MAX_SIZE:
            raise ExpansionError(
                f"the expansion is over {MAX_SIZE >> 20} MiB (variables that double each line?)"
            )
        return value

    def dollar(self) -> str:
        return self.produced(self._dollar())

    def _dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.env.get(name, "") if name else "$"
        self.next()
        ch = self.peek()
        if not ch:
            raise ExpansionError("syntax error: missing '}'")
        if ch in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        operator = self.next()
        value = self.env.get(name)
        if operator == "}":
            return value or ""
        if operator == ":":
            modifier = self.next()
            word = self.braced_word()
            if modifier == "+":
                return word if value else ""
            if modifier == "-":
                return value if value else word
            if modifier == "?":
                if value is None:
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
                if value == "":
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        if operator in "+-?" and operator:
            word = self.braced_word()
            if operator == "+":
                return word if value is not None else ""
            if operator == "-":
                return value if value is not None else word
            if value is None:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
            return value
        if operator in ("#", "%"):
            longest = self.peek() == operator
            if longest:
                self.next()
            pattern = self.braced_word(raw_escapes=True)
            return _trim(value or "", pattern, operator == "#", longest=longest)
        if operator == "/":
            replace_all = self.peek() == "/"
            if replace_all:
                self.next()
            pattern = self.braced_word("/", raw_escapes=True)
            replacement = self.braced_word("}", raw_escapes=True)
            return _replace(value or "", pattern, replacement, every=replace_all)
        if not operator:
            raise ExpansionError("syntax error: missing '}'")
        raise ExpansionError(f"unsupported modifier ({operator}) in substitution")


def _trim(value: str, pattern: str, prefix: bool, *, longest: bool) -> str:
    """`${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`: one pass of the pattern's
    automaton finds every prefix (or, reversed, suffix) it matches."""
    glob = shell_glob(pattern)
    if prefix:
        matched = glob.prefixes(value)
    else:
        matched = glob.reversed().prefixes(value[::-1])
    lengths = [length for length, ok in enumerate(matched) if ok]
    if not lengths:
        return value
    length = lengths[-1] if longest else lengths[0]
    return value[length:] if prefix else value[: len(value) - length]


def _replace(value: str, pattern: str, replacement: str, *, every: bool) -> str:
    """`${VAR/pat/rep}` and `${VAR//pat/rep}`: the longest match at the leftmost place (after
    an empty match, the search goes on one character later)."""
    glob = shell_glob(pattern)
    leading_star = bool(glob.tokens) and glob.tokens[0][0] == STAR
    out: list[str] = []
    position = 0
    while position <= len(value):
        start, longest = position, -1
        while start <= len(value):
            matched = glob.prefixes(value[start:])
            longest = max((length for length, ok in enumerate(matched) if ok), default=-1)
            if longest >= 0 or leading_star:  # a leading * would have matched here if later
                break
            start += 1
        if longest < 0:
            break
        out.append(value[position:start] + replacement)
        position = start + longest
        if longest == 0:
            out.append(value[position : position + 1])
            position += 1
        if not every:
            break
    out.append(value[position:])
    return "".join(out)


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand one word: quotes removed, escapes processed, variables substituted, no splitting."""
    text, _ = _Lexer(word, env, escape).until()
    return text


def expand_heredoc(body: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """A heredoc body with an unquoted delimiter: `$` expands and escapes are processed, but
    quotes are ordinary characters (`'${name}'` still expands), as in BuildKit."""
    text, _ = _Lexer(body, env, escape, quotes=False).until()
    return text


def words_keeping_quotes(text: str, escape: str = "\\") -> list[str]:
    """Split like the shell, keeping quote characters in the words (variables are not looked
    up): how BuildKit finds heredoc markers on an instruction line."""
    _, words = _Lexer(text, _Unexpanded(), escape, raw_quotes=True).until()
    return words


class _Unexpanded(dict[str, str]):
    """An environment in which every `$NAME` stays as written."""

    def get(self, key: str, default: object = None) -> str:
        return f"${key}"


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand, then split on unquoted whitespace (also whitespace that came from a variable)."""
    _, words = _Lexer(text, env, escape).until()
    return words
