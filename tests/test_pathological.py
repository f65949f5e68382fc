"""Pathological Dockerfiles and inputs, one test per class of blow-up: each would hang for
minutes, exhaust memory or end in a traceback before. They check results and errors, not
timings (the figures are in the closing note of the hostile-inputs issue); a regression shows
as a test that never ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation import evaluated
from pybuild.api import parse, read_dockerfile
from pybuild.build.context import BuildContext, glob_match
from pybuild.build.ignore import IgnoreRules
from pybuild.dockerfile.expand import ExpansionError, expand_word
from pybuild.errors import InstructionError, PybuildError, UsageError
from pybuild.oci.archive import ArchiveError, ImageArchive
from pybuild.oci.model import InvalidDocument, json_object
from pybuild.oci.platform import Platform

PLATFORM = Platform("linux", "amd64")


def test_variables_nested_thousands_deep_are_an_error_not_a_recursion():
    word = "${a:-" * 5000 + "x" + "}" * 5000
    with pytest.raises(ExpansionError, match="nested more than 64 deep"):
        expand_word(word, {})
    assert expand_word("${a:-${b:-${c:-deep}}}", {}) == "deep"


def test_json_nested_thousands_deep_is_read_as_shell_form_or_refused():
    deep = "[" * 5000 + "]" * 5000
    instruction = parse(f"FROM scratch\nCMD {deep}\n").instructions[-1]
    assert instruction.command.exec_form is None and instruction.command.shell_form == deep
    with pytest.raises(InvalidDocument, match="nested too deep"):
        json_object(deep.encode(), "a manifest")


def test_arguments_that_double_each_line_stop_at_a_clear_limit(tmp_path):
    lines = ["FROM scratch", "ARG a0=xx"] + [
        f"ARG a{n}=${{a{n - 1}}}${{a{n - 1}}}" for n in range(1, 41)
    ]
    with pytest.raises(InstructionError, match="over 16 MiB") as caught:
        evaluated(parse("\n".join(lines) + "\n"), BuildContext(tmp_path), PLATFORM)
    assert caught.value.location is not None and caught.value.location.line > 20


def test_a_hundred_thousand_env_lines_evaluate_in_linear_time(tmp_path):
    """Each ENV used to copy every variable for the next lookup: quadratic in time and, with
    per-instruction snapshots, in memory (10,000 lines took 96 s and 8 GB)."""
    lines = ["FROM scratch"] + [f"ENV V{n}=value{n}" for n in range(100_000)] + ["ENV V7=again"]
    image = evaluated(
        parse("\n".join(lines) + "\n"), BuildContext(tmp_path), PLATFORM, record_steps=False
    ).evaluation.image
    env = image.config.run.env
    assert len(env) == 100_001 and env[8] == "V7=again" and env[-1] == "V99999=value99999"


def test_a_ten_megabyte_line_parses_in_linear_time_and_memory():
    value = "y" * (10 << 20)
    instruction = parse(f"FROM scratch\nENV A={value}\n").instructions[-1]
    assert instruction.pairs[0].value == value


def test_hostile_glob_patterns_match_in_polynomial_time(tmp_path):
    """`a*a*...*b` against long names of `a`: exponential for a backtracking regex."""
    pattern = "a*" * 25 + "b"
    name = "a" * 300
    assert not glob_match(pattern, name)
    assert glob_match(pattern, name + "b")
    assert expand_word("${v#" + pattern + "}", {"v": name}) == name
    assert expand_word("${v%%*a}", {"v": name + "c"}) == name + "c"
    rules = IgnoreRules([pattern, "**/" + pattern])
    assert not rules.ignored(name) and rules.ignored(f"x/{name}b")


def test_a_fifo_is_never_waited_on(tmp_path):
    """A named pipe with no writer as the Dockerfile or as an archive: one clear error."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert read_dockerfile(fifo) == ""
    with pytest.raises(ArchiveError, match="not a regular file"):
        ImageArchive(fifo)
    context = tmp_path / "ctx"
    context.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pybuild", "-q", "-f", str(fifo), "-o", "-", str(context)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "no instructions" in result.stderr
    with pytest.raises(UsageError, match="is a device"):
        read_dockerfile(Path("/dev/zero"))


def test_values_docker_would_refuse_at_load_are_errors_at_their_line(tmp_path):
    """Durations beyond int64 nanoseconds and ids beyond 2^32-1 build today and fail when the
    image is run or loaded: they are errors where they are written."""
    cases = {
        "HEALTHCHECK --interval=999999999h CMD true\n": "longer than about 292 years",
        "USER 4294967296\n": "beyond the largest id",
        "USER app:4294967296\n": "beyond the largest id",
        "COPY --chown=4294967296 a /a\n": "beyond the largest id",
    }
    (tmp_path / "a").write_text("a")
    for text, message in cases.items():
        with pytest.raises(InstructionError, match=message) as caught:
            evaluated(parse("FROM scratch\n" + text), BuildContext(tmp_path), PLATFORM)
        assert caught.value.location is not None and caught.value.location.line == 2
    spec = evaluated(parse("FROM scratch\nUSER 4294967295:0\n"), BuildContext(tmp_path), PLATFORM)
    assert spec.config["User"] == "4294967295:0"


@pytest.mark.parametrize("form", ["gnu", "posix", "oldgnu"])
def test_sparse_archive_members_are_refused_not_written_as_their_map(tmp_path, form):
    """tar --sparse stores a map of holes; copying those bytes as the file's gave a wrong
    file (or a confusing 'changed while read'). Refused clearly until expanded."""
    import shutil

    if shutil.which("tar") is None:
        pytest.skip("GNU tar is needed to make sparse members")
    work = tmp_path / "w"
    work.mkdir()
    with open(work / "f", "wb") as sparse:
        sparse.truncate(4 << 20)
        sparse.seek(0, 2)
        sparse.write(b"x\n")
    (tmp_path / "c").mkdir()
    subprocess.run(
        ["tar", f"--format={form}", "--sparse", "-cf", str(tmp_path / "c" / "s.tar"), "f"],
        cwd=work,
        check=True,
    )
    context = BuildContext(tmp_path / "c")
    with pytest.raises(PybuildError, match="stored sparse") as caught:
        evaluated(parse("FROM scratch\nADD s.tar /x/\n"), context, PLATFORM, scratch=tmp_path)
    assert "s.tar" in str(caught.value)
