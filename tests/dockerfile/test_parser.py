"""Parser: line joining, directives, positions, and BuildKit's own fixtures byte for byte."""

from __future__ import annotations

import pytest

from conftest import CONFORMANCE_COUNTS
from pybuild.dockerfile.dump import dump, go_quote
from pybuild.dockerfile.lower import lower
from pybuild.dockerfile.parser import parse_dockerfile
from pybuild.errors import DockerfileSyntaxError


def args_of(text: str) -> list[tuple[str, str]]:
    return [(raw.keyword, raw.args.text.strip()) for raw in parse_dockerfile(text).instructions]


def test_continuation_joins_without_separator_and_keeps_indentation():
    assert args_of("RUN echo hello\\\n  world\n") == [("RUN", "echo hello  world")]


def test_comment_and_blank_lines_inside_a_continuation_are_skipped():
    text = "COPY a \\\n# a comment \\\n\n   \n  /dst/\nCMD x\n"
    assert args_of(text) == [("COPY", "a   /dst/"), ("CMD", "x")]


def test_double_escape_at_end_of_line_is_not_a_continuation():
    assert args_of("ENV C trailing\\\\\nENV D x\n") == [("ENV", "C trailing\\\\"), ("ENV", "D x")]


def test_blanks_after_the_escape_still_continue():
    assert args_of("RUN a \\  \nb\n") == [("RUN", "a b")]


def test_continuation_at_end_of_file_ends_the_instruction():
    assert args_of("FROM scratch\nCMD a \\\n# only a comment\n") == [
        ("FROM", "scratch"),
        ("CMD", "a"),
    ]


def test_bom_crlf_and_missing_final_newline():
    assert args_of("\ufeffFROM scratch\r\nCMD a\r\n  b") == [
        ("FROM", "scratch"),
        ("CMD", "a"),
        ("b", ""),
    ]


def test_escape_directive_only_at_the_top():
    backtick = parse_dockerfile("# escape=`\nFROM scratch\nENV A a`\n  b\n")
    assert backtick.escape == "`"
    assert [raw.args.text for raw in backtick.instructions][1] == " A a  b"
    ignored = parse_dockerfile("# comment\n# escape=`\nFROM scratch\n")
    assert ignored.escape == "\\"


def test_repeated_directive_is_an_error():
    with pytest.raises(DockerfileSyntaxError, match="only one escape"):
        parse_dockerfile("# escape=`\n# escape=\\\nFROM scratch\n")


def test_positions_point_at_the_instruction_and_its_words():
    raw = parse_dockerfile("FROM scratch\n\n   COPY \\\n    a /b\n").instructions[1]
    assert (raw.location.line, raw.location.column) == (3, 4)
    assert raw.end_line == 4
    offset = raw.args.text.index("a")
    assert (raw.location_at(offset).line, raw.location_at(offset).column) == (4, 5)


def test_empty_file_is_an_error_with_a_position():
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_dockerfile("# nothing\n\n")
    assert "no instructions" in caught.value.message
    assert caught.value.location.line == 1


def test_go_quote_matches_strconv_quote():
    assert go_quote('a"b\\c\td\x00\x7f♥\u200b') == '"a\\"b\\\\c\\td\\x00\\x7f♥\\u200b"'


def _fixture_cases(conformance_dir, kind):
    folder = conformance_dir / "buildkit-parser" / kind
    return sorted(path for path in folder.iterdir() if path.is_dir())


def test_buildkit_parser_fixtures_byte_for_byte(conformance):
    cases = _fixture_cases(conformance, "testfiles")
    failures = []
    for case in cases:
        text = (case / "Dockerfile").read_bytes().decode("utf-8")
        expected = (case / "result").read_bytes().decode("utf-8")
        if dump(parse_dockerfile(text)) != expected:
            failures.append(case.name)
    CONFORMANCE_COUNTS["BuildKit parser fixtures (byte for byte)"] = (
        f"{len(cases) - len(failures)}/{len(cases)}"
    )
    assert len(cases) == 33
    assert failures == []


def test_buildkit_negative_fixtures_are_rejected_with_a_position(conformance):
    cases = _fixture_cases(conformance, "testfiles-negative")
    assert len(cases) == 4
    for case in cases:
        with pytest.raises(DockerfileSyntaxError) as caught:
            lower(parse_dockerfile((case / "Dockerfile").read_text(), "Dockerfile"))
        assert caught.value.location is not None, case.name


def test_buildkit_line_number_fixture(conformance):
    text = (conformance / "buildkit-parser" / "testfile-line" / "Dockerfile").read_text()
    spans = [(raw.location.line, raw.end_line) for raw in parse_dockerfile(text).instructions]
    assert spans == [(5, 5), (11, 12), (17, 31)]


def test_parse_command_rejects_buildkit_negative_fixtures(conformance):
    import subprocess
    import sys

    rejected = 0
    for case in _fixture_cases(conformance, "testfiles-negative"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pybuild",
                "parse",
                "--format",
                "buildkit",
                str(case / "Dockerfile"),
            ],
            capture_output=True,
        )
        assert result.returncode == 1, case.name
        assert f"{case / 'Dockerfile'}:" in result.stderr.decode(), case.name
        assert b"Traceback" not in result.stderr
        rejected += 1
    CONFORMANCE_COUNTS["BuildKit negative fixtures rejected"] = f"{rejected}/4"
