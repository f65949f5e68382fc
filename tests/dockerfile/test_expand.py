"""Expansion against BuildKit's vectors (../shared/conformance) and a few readable cases."""

from __future__ import annotations

import json

import pytest

from conftest import CONFORMANCE_COUNTS
from pybuild.dockerfile.expand import ExpansionError, expand_word, expand_words


@pytest.mark.parametrize(
    "word, expected",
    [
        ("$A", "1"),
        ("${A}x", "1x"),
        ("${UNSET:-dflt}", "dflt"),
        ("${A:+set}", "set"),
        ("${EMPTY:+set}", ""),
        ("'$A' \"$A\"", "$A 1"),
        ("\\$A", "$A"),
        ("${PATHLIKE##*/}", "c"),
        ("${PATHLIKE%/*}", "/a/b"),
        ("${PATHLIKE//\\//:}", ":a:b:c"),
    ],
)
def test_expand_word(word, expected):
    env = {"A": "1", "EMPTY": "", "PATHLIKE": "/a/b/c"}
    assert expand_word(word, env) == expected


def test_expand_words_splits_unquoted_expansions_only():
    env = {"PORTS": "80  443/tcp"}
    assert expand_words("$PORTS 53/udp", env) == ["80", "443/tcp", "53/udp"]
    assert expand_words('"$PORTS"', env) == ["80  443/tcp"]


def test_errors_say_what_is_wrong():
    with pytest.raises(ExpansionError, match="REQUIRED: set it"):
        expand_word("${REQUIRED:?set it}", {})
    with pytest.raises(ExpansionError, match="bad substitution"):
        expand_word("${}", {})


def _env_var_rows(conformance):
    for line in (conformance / "buildkit-shell" / "envVarTest").read_text("utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        tag, word, expected = (field.strip() for field in line.split("|"))
        if tag != "W":
            yield word, expected


def _words_rows(conformance):
    env: dict[str, str] = {}
    for line in (conformance / "buildkit-shell" / "wordsTest").read_text("utf-8").splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("ENV "):
            key, value = line[4:].lstrip(" ").split("=", 1)
            env[key] = value
        elif "|" in line:
            text, expected = line.split("|")
            yield dict(env), text.strip(), expected.lstrip(" ")


def _outcome(function, *args):
    try:
        return function(*args)
    except ExpansionError:
        return "error"


def test_buildkit_shell_vectors(conformance):
    env = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}
    results = []
    for word, expected in _env_var_rows(conformance):
        results.append((word, expected, _outcome(expand_word, word, env)))
    for words_env, text, expected in _words_rows(conformance):
        wanted = "error" if expected == "error" else expected.split(",")
        results.append((text, wanted, _outcome(expand_words, text, words_env)))
    table = conformance / "shell-expansion-cases.tsv"
    for line in table.read_text("utf-8").splitlines():
        if line.startswith("#") or not line.startswith("ProcessWord"):
            continue
        fields = line.split("\t")
        env_row, word, expected = json.loads(fields[1]), json.loads(fields[2]), fields[3]
        wanted = "error" if expected.startswith("error") else json.loads(expected)
        results.append((word, wanted, _outcome(expand_word, word, env_row)))
    failures = [row for row in results if row[1] != row[2]]
    CONFORMANCE_COUNTS["expansion vectors"] = f"{len(results) - len(failures)}/{len(results)}"
    assert len(results) == 228 + 24 + 56
    assert failures == []
