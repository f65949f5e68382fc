"""Heredocs, checked against the rules BuildKit's tests state (instruction-cases.md §1.8, §2.5,
§3.1); the classic builder has no heredocs, so these are golden tests, not differential ones."""

from __future__ import annotations

import pytest

from evaluation import evaluated
from pybuild.api import parse
from pybuild.build.context import BuildContext
from pybuild.build.timestamps import Timestamps
from pybuild.dockerfile.parser import parse_dockerfile
from pybuild.errors import DockerfileSyntaxError
from pybuild.oci.platform import Platform


def files_of(tmp_path, text):
    spec = evaluated(parse(text), BuildContext(tmp_path), Platform("linux", "amd64"), Timestamps())
    return {e.path: e.data for layer in spec.layers for e in layer.entries if e.kind == "file"}


def test_parse_reads_bodies_and_keeps_line_numbers():
    text = "FROM scratch\nRUN <<EOF\necho \\\n# not a comment\nEOF\nCOPY <<A <<'B' /d/\n1\nA\n2\nB\nCMD x\n"
    raws = parse_dockerfile(text).instructions
    assert [(r.keyword, r.location.line, r.end_line) for r in raws] == [
        ("FROM", 1, 1),
        ("RUN", 2, 5),
        ("COPY", 6, 10),
        ("CMD", 11, 11),
    ]
    assert raws[1].heredocs[0].body == "echo \\\n# not a comment\n"
    assert [(h.name, h.body, h.expand) for h in raws[2].heredocs] == [
        ("A", "1\n", True),
        ("B", "2\n", False),
    ]


@pytest.mark.parametrize("delimiter", ["'EOF'", '"EOF"', "E'O'F"])
def test_any_quoted_part_turns_expansion_off(delimiter):
    (raw,) = parse_dockerfile(f"COPY <<{delimiter} /x\n$A\nEOF\n").instructions
    assert raw.heredocs[0].expand is False


def test_copy_heredoc_expansion_and_escapes(tmp_path):
    files = files_of(
        tmp_path,
        "FROM scratch\nARG name=world\nCOPY <<EOF /a\nHello ${name}! "
        '\'${name}\' "${name}"\n\\$ \\\\\nEOF\nCOPY <<"EOF" /b\n${name} \\$\nEOF\n',
    )
    assert files["a"] == b"Hello world! 'world' \"world\"\n$ \\\n"
    assert files["b"] == b"${name} \\$\n"


def test_chomp_strips_tabs_and_files_are_named_after_delimiters(tmp_path):
    files = files_of(
        tmp_path,
        "FROM scratch\nWORKDIR /dest\nCOPY <<-EOF <<TWO double/\n\tbar\n\tEOF\n"
        "\tkept\nTWO\nCOPY <<EOF single\nx\nEOF\n",
    )
    assert files == {
        "dest/double/EOF": b"bar\n",
        "dest/double/TWO": b"\tkept\n",
        "dest/single": b"x\n",
    }


def test_heredoc_destination_and_unterminated_heredoc_are_errors():
    with pytest.raises(DockerfileSyntaxError, match="cannot accept a heredoc as a destination"):
        parse("FROM scratch\nCOPY /foo <<EOF\nEOF\n")
    with pytest.raises(DockerfileSyntaxError, match="unterminated heredoc <<EOF") as caught:
        parse("FROM scratch\nCOPY <<EOF /x\nno end\n")
    assert caught.value.location.line == 2
