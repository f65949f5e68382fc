"""Finds the Lark grammar (inside the installed package, or in the source tree's grammar/) and
compiles one parser per escape character, once."""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import lark

GRAMMAR_NAME = "dockerfile.lark"
ESCAPE_PLACEHOLDER = "@ESC@"


def grammar_text() -> str:
    """The grammar source: the copy shipped in the wheel, else the repository's grammar/ folder."""
    packaged = resources.files("pybuild").joinpath("grammar").joinpath(GRAMMAR_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    in_repo = Path(__file__).resolve().parents[2] / "grammar" / GRAMMAR_NAME
    return in_repo.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=2)
def dockerfile_parser(escape: str) -> lark.Lark:
    """A LALR parser for Dockerfiles whose escape character is `escape` (`\\` or a backtick)."""
    text = grammar_text().replace(ESCAPE_PLACEHOLDER, re.escape(escape))
    return lark.Lark(text, parser="lalr", lexer="contextual", propagate_positions=True)
