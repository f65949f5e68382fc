"""Finds the Lark grammar (inside the installed package, or in the source tree's grammar/) and
compiles one parser per escape character, once."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import lark

GRAMMAR_NAME = "dockerfile.lark"
ESCAPE_PLACEHOLDER = "@ESC@"


def grammar_text() -> str:
    """The grammar source: the copy shipped in the wheel (beside this module), else the
    repository's grammar/ folder (an editable install or a source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / GRAMMAR_NAME, here.parents[2] / "grammar" / GRAMMAR_NAME):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError(f"{GRAMMAR_NAME} is missing from the installation")


@functools.lru_cache(maxsize=2)
def dockerfile_parser(escape: str) -> lark.Lark:
    """A LALR parser for Dockerfiles whose escape character is `escape` (`\\` or a backtick)."""
    text = grammar_text().replace(ESCAPE_PLACEHOLDER, re.escape(escape))
    return lark.Lark(text, parser="lalr", lexer="contextual", propagate_positions=True)
