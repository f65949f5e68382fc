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
from .globs import shell_regex

SPECIAL_PARAMETERS = "@*#?-$!0"


class ExpansionError(InstructionError):
    """A malformed or failing `${...}` expression."""


class _Words:
    """Collects characters into words, splitting on whitespace that was not quoted or escaped."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.word = ""
        self.in_word = False

    def char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word, self.in_word = "", False
        else:
            self.raw(ch)

    def raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def text(self, text: str) -> None:
        for ch in text:
            self.char(ch)

    def result(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False
        return self.words


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
        while self.peek():
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
        while True:
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
        try:
            word, _ = self.until(stop, raw_escapes)
        except ExpansionError:
            if not self.peek():
                raise ExpansionError("syntax error: missing '}'") from None
            raise
        return word

    def dollar(self) -> str:
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
            regex = _pattern_regex(pattern)
            return regex.sub(lambda _: replacement, value or "", count=0 if replace_all else 1)
        if not operator:
            raise ExpansionError("syntax error: missing '}'")
        raise ExpansionError(f"unsupported modifier ({operator}) in substitution")


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    try:
        return shell_regex(pattern)
    except re.error as error:
        raise ExpansionError(f"invalid pattern ({pattern}) in substitution: {error}") from None


def _trim(value: str, pattern: str, prefix: bool, *, longest: bool) -> str:
    """`${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`."""
    regex = _pattern_regex(pattern)
    lengths = range(len(value), -1, -1) if longest else range(0, len(value) + 1)
    for length in lengths:
        part = value[:length] if prefix else value[len(value) - length :]
        if regex.fullmatch(part):
            return value[length:] if prefix else value[: len(value) - length]
    return value


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
