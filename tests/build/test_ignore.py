""".dockerignore against the conformance tables (patternmatcher and BuildKit end-to-end rows)."""

from __future__ import annotations

import json

import pytest

from conftest import CONFORMANCE_COUNTS
from pybuild.build.ignore import IgnoreRules, read_ignore_file
from pybuild.errors import ContextError


def outcome(patterns: list[str], path: str, api: str) -> str:
    try:
        rules = IgnoreRules(patterns)
        ignored = rules.ignored_legacy(path) if api == "Matches" else rules.ignored(path)
    except ContextError:
        return "error"
    return "match" if ignored else "nomatch"


def test_dockerignore_vectors(conformance):
    rows = [
        line.split("\t")
        for line in (conformance / "dockerignore-cases.tsv").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    failures = [
        (api, patterns, path, expected)
        for api, patterns, path, expected, _ in rows
        if outcome(json.loads(patterns), json.loads(path), api) != expected
    ]
    CONFORMANCE_COUNTS["dockerignore vectors"] = f"{len(rows) - len(failures)}/{len(rows)}"
    assert len(rows) == 145
    assert failures == []


def test_dockerignore_file_lines(conformance):
    rows = [
        line.split("\t")
        for line in (conformance / "dockerignore-file-cases.tsv").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(rows) == 9
    for raw, result in rows:
        expected = [] if json.loads(result) is None else [json.loads(result)]
        assert read_ignore_file(json.loads(raw)) == expected, raw


@pytest.mark.parametrize(
    "patterns, path, ignored",
    [
        (["*.py", "!keep.py"], "keep.py", False),
        (["build"], "build/deep/file", True),
        (["build", "!build/keep"], "build/keep/x", False),
        (["**/*.log"], "a/b/c.log", True),
        (["!*/*.txt"], "a/b.txt", False),
    ],
)
def test_readable_cases(patterns, path, ignored):
    assert IgnoreRules(patterns).ignored(path) is ignored


def test_a_character_class_may_match_a_slash_as_dockers_regex_does():
    """Docker's patternmatcher hands `[...]` to a regex as written, where `[^x]` matches `/`
    (only `*` and `?` stop at it)."""
    rules = IgnoreRules(["a[^x]b", "c?d"])
    assert rules.ignored("a/b") and not rules.ignored("c/d")
