"""Build checks: each rule fires where BuildKit's would, with its position; skip and error."""

from __future__ import annotations

import pytest

from pybuild.api import parse
from pybuild.dockerfile.checks import active_warnings, check


def rules(text: str) -> list[tuple[str, int]]:
    return [(warning.rule, warning.location.line) for warning in check(parse(text))]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("FROM scratch\nCMD run it\n", [("JSONArgsRecommended", 2)]),
        ('FROM scratch\nENTRYPOINT ["/x"]\n', []),
        (
            "FROM scratch\nENV key value\nLABEL k v\nENV a=b\n",
            [("LegacyKeyValueFormat", 2), ("LegacyKeyValueFormat", 3)],
        ),
        ("FROM scratch AS Build\n", [("StageNameCasing", 1)]),
        ("FROM scratch as build\n", [("FromAsCasing", 1)]),
        ("from scratch as build\n", []),
        ("FROM scratch\nMAINTAINER me\n", [("MaintainerDeprecated", 2)]),
        ("FROM scratch\nWORKDIR app\nWORKDIR more\n", [("WorkdirRelativePath", 2)]),
        (
            "FROM scratch\nEXPOSE 53/UDP 127.0.0.1:80:80\n",
            [("ExposeProtoCasing", 2), ("ExposeInvalidFormat", 2)],
        ),
        ('FROM scratch\nCMD ["a"]\nCMD ["b"]\n', [("MultipleInstructionsDisallowed", 2)]),
        (
            "FROM scratch\nARG API_TOKEN\nENV DB_PASSWORD=x\n",
            [("SecretsUsedInArgOrEnv", 2), ("SecretsUsedInArgOrEnv", 3)],
        ),
        ("FROM scratch\nCoPy a /b\n", [("ConsistentInstructionCasing", 2)]),
    ],
)
def test_rules(text, expected):
    assert rules(text) == expected


def test_skip_and_error_settings():
    dockerfile = parse("# check=skip=JSONArgsRecommended\nFROM scratch\nCMD x\nMAINTAINER m\n")
    shown, fatal = active_warnings(dockerfile, None)
    assert [w.rule for w in shown] == ["MaintainerDeprecated"] and not fatal
    assert active_warnings(dockerfile, "error")[1] is True
    assert active_warnings(parse("# check=error=true\nFROM scratch\n"), None) == ([], True)
    assert active_warnings(dockerfile, "skip=all") == ([], False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The majority is lowercase: each uppercase keyword is named, as BuildKit names it.
        (
            'from scratch\ncopy a /a\nCOPY a /b\ncopy a /c\nCMD ["/a"]\n',
            [
                (3, "Command 'COPY' should match the case of the command majority (lowercase)"),
                (5, "Command 'CMD' should match the case of the command majority (lowercase)"),
            ],
        ),
        # A tie counts as uppercase; an ARG before FROM does not vote.
        (
            "arg X=1\nFROM scratch\ncopy a /a\n",
            [(3, "Command 'copy' should match the case of the command majority (uppercase)")],
        ),
        ("FROM scratch\nCOPY a /a\n", []),
    ],
)
def test_majority_casing(text, expected):
    found = [
        (w.location.line, w.message)
        for w in check(parse(text))
        if w.rule == "ConsistentInstructionCasing"
    ]
    assert found == expected


def test_rule_pages_are_buildkits():
    from pybuild.dockerfile.checks import RULES, rule_url

    assert rule_url("JSONArgsRecommended").endswith("/rule/json-args-recommended/")
    assert rule_url("ConsistentInstructionCasing").endswith("/rule/consistent-instruction-casing/")
    assert rule_url("SecretsUsedInArgOrEnv").endswith("/rule/secrets-used-in-arg-or-env/")
    every = {
        w.rule
        for text in ("FROM scratch\nCMD x\n", "FROM scratch AS Build\n")
        for w in check(parse(text))
    }
    assert every <= set(RULES)
