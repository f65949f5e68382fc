"""Errors that users see: each carries where in the Dockerfile it happened and renders itself
as ``file:line:col: message`` followed by the source line and a caret."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A position in a Dockerfile; line and column are 1-based, as editors count them."""

    file: str
    line: int
    column: int
    source_line: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class PybuildError(Exception):
    """Base of every error the CLI reports as one message and exit code 1."""

    def render(self) -> str:
        return str(self)


class InstructionError(PybuildError):
    """Raised by helpers that know what went wrong but not where; the caller adds the location."""

    def __init__(self, message: str, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.location = location

    def at(self, location: Location) -> InstructionError:
        """Return this error with `location` filled in, unless a more precise one is already set."""
        if self.location is None:
            self.location = location
        return self

    def render(self) -> str:
        if self.location is None:
            return self.message
        loc = self.location
        text = f"{loc}: {self.message}"
        if loc.source_line:
            shown = loc.source_line.expandtabs(1)
            text += f"\n  {shown}\n  {' ' * (loc.column - 1)}^"
        return text

    def __str__(self) -> str:
        return self.render()


def first_line(error: BaseException) -> str:
    """An error's message as one line (tarfile's, say, can list every format it tried)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@contextmanager
def located(location: Location | None) -> Iterator[None]:
    """InstructionErrors raised inside get `location`, unless they carry a more precise one:
    helpers raise plain errors and the caller that knows where adds the place, once."""
    try:
        yield
    except InstructionError as error:
        if location is not None:
            error.at(location)
        raise


class DockerfileSyntaxError(InstructionError):
    """The Dockerfile text cannot be parsed."""


class ContextError(InstructionError):
    """A COPY/ADD source is missing, outside the build context, or unreadable."""


class UsageError(PybuildError):
    """Bad command-line input (a tag, a platform, an output path)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean X?)` for the choice nearest `word`, as BuildKit suggests; "" when none
    is near. The suggestion keeps the word's case (COPPY -> COPY, coppy -> copy)."""
    import difflib

    found = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not found:
        return ""
    return f" (did you mean {found[0].upper() if word.isupper() else found[0]}?)"
