"""Build context: globs, cleaning, symlink resolution that never leaves the context."""

from __future__ import annotations

import os
import tarfile

import pytest

from pybuild.build.context import BuildContext, clean_source, glob_match
from pybuild.build.copying import resolve_sources
from pybuild.dockerfile.instructions import Word
from pybuild.errors import ContextError, Location, PybuildError


@pytest.mark.parametrize(
    "pattern, name, matches",
    [
        ("*.txt", "a.txt", True),
        ("*.txt", "dir/a.txt", False),
        ("dir/*.txt", "dir/a.txt", True),
        ("?.txt", "ab.txt", False),
        ("[ab].txt", "b.txt", True),
        ("[^ab].txt", "c.txt", True),
        ("[^ab].txt", "a.txt", False),
        ("\\*.txt", "*.txt", True),
    ],
)
def test_glob_match_is_go_filepath_match(pattern, name, matches):
    assert glob_match(pattern, name) is matches


def test_clean_source():
    assert clean_source("./a/../b") == "b"
    assert clean_source("/a") == "a"
    assert clean_source(".") == "."
    assert clean_source("/../x") == "x"
    with pytest.raises(ContextError, match="outside the build context"):
        clean_source("../x")
    with pytest.raises(ContextError, match="outside the build context"):
        clean_source("a/../../x")


def make_context(root):
    (root / "data").mkdir()
    (root / "data" / "x").write_text("x")
    os.symlink("data/x", root / "rel")
    os.symlink("/data/x", root / "abs")
    os.symlink("../../etc/passwd", root / "data" / "up")
    os.symlink("/etc/passwd", root / "escaping")
    return BuildContext(root)


def test_symlinks_resolve_inside_the_context(tmp_path):
    context = make_context(tmp_path)
    assert context.resolve_in_scope("rel") == "data/x"
    assert context.resolve_in_scope("abs") == "data/x"  # absolute targets mean the context's path


def test_symlink_that_climbs_out_is_refused(tmp_path):
    context = make_context(tmp_path)
    with pytest.raises(ContextError, match="above the context root"):
        context.resolve_in_scope("data/up")


def test_absolute_symlink_to_a_host_file_is_not_read(tmp_path):
    context = make_context(tmp_path)
    with pytest.raises(ContextError, match="not found in build context.*etc/passwd"):
        context.stat_source("escaping", "escaping")


def test_glob_without_match_is_an_error_only_when_no_source_is_left(tmp_path):
    (tmp_path / "a").write_text("a")
    context = BuildContext(tmp_path)
    location = Location("Dockerfile", 2, 6)
    with pytest.raises(ContextError, match="matches nothing"):
        resolve_sources(context, [Word("*.nothing", location)])
    found = resolve_sources(context, [Word("a", location), Word("*.nothing", location)])
    assert [source.path for source in found] == ["a"]


def test_unreadable_files_and_directories_are_errors_naming_them(tmp_path):
    """Root reads everything, so the build runs without the capabilities that let it
    (setpriv drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH): an unreadable directory was
    copied as if empty; it and an unreadable file are errors that name them."""
    import subprocess
    import sys

    from conftest import require_tool

    setpriv = require_tool("setpriv")
    context = tmp_path / "ctx"
    (context / "locked").mkdir(parents=True)
    (context / "locked" / "inside.txt").write_text("x")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /all/\n")
    command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable]
    command += ["-m", "pybuild", "--no-cache", "-q", "-t", "u:1", "-o", str(tmp_path / "u.tar")]
    (context / "locked").chmod(0)
    try:
        result = subprocess.run([*command, str(context)], capture_output=True, text=True)
    finally:
        (context / "locked").chmod(0o755)
    assert result.returncode == 1 and "cannot read" in result.stderr, result.stderr
    assert "locked" in result.stderr and not (tmp_path / "u.tar").exists()
    (context / "secret").write_text("s")
    (context / "secret").chmod(0)
    result = subprocess.run([*command, str(context)], capture_output=True, text=True)
    assert result.returncode == 1 and "cannot read ./secret" in result.stderr, result.stderr


def test_an_excluded_directory_with_kept_descendants_can_be_named(tmp_path):
    """`.dockerignore` excludes `dir` but brings back `dir/keep.txt`: `COPY dir /d/` copies
    what was brought back, as BuildKit does (the directory was sent for it)."""
    from evaluation import evaluated
    from pybuild.api import parse
    from pybuild.build.context import BuildContext
    from pybuild.build.ignore import IgnoreRules
    from pybuild.oci.platform import Platform

    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "keep.txt").write_text("kept")
    (tmp_path / "dir" / "drop.txt").write_text("dropped")
    context = BuildContext(tmp_path, IgnoreRules(["dir", "!dir/keep.txt"]))
    spec = evaluated(parse("FROM scratch\nCOPY dir /d/\n"), context, Platform("linux", "amd64"))
    paths = [entry.path for entry in spec.layers[0].entries]
    assert "d/keep.txt" in paths and "d/drop.txt" not in paths
    bare = BuildContext(tmp_path, IgnoreRules(["dir"]))
    with pytest.raises(PybuildError, match="excluded by .dockerignore: dir"):
        evaluated(parse("FROM scratch\nCOPY dir /d/\n"), bare, Platform("linux", "amd64"))


@pytest.mark.parametrize("swap", ["directory", "file", "file in a copied directory"])
def test_a_context_path_swapped_for_a_symlink_mid_build_is_never_read(tmp_path, swap):
    """Checked, then opened by path, a context file could be read through a symlink planted in
    between (TOCTOU). Files are opened component by component beneath the context root without
    following links, and must be the inode that was walked. A copied directory is walked
    again when its layer is written (as BuildKit reads a context when it needs it): a file
    that has become a link by then is copied as that link, and its target is never read."""
    import io

    from evaluation import evaluated
    from pybuild.api import parse
    from pybuild.oci.platform import Platform
    from pybuild.oci.sinks import HashingWriter

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("host secret")
    context = tmp_path / "ctx"
    (context / "d").mkdir(parents=True)
    (context / "d" / "f").write_text("context file")
    copy = "COPY d/f /d/f" if swap == "file" else "COPY d /d"
    spec = evaluated(
        parse(f"FROM scratch\n{copy}\n"), BuildContext(context), Platform("linux", "amd64")
    )
    if swap == "directory":
        (context / "d").rename(context / "d-old")
        (context / "d").symlink_to(outside)
    else:
        (context / "d" / "f").unlink()
        (context / "d" / "f").symlink_to(outside / "f")
    written = io.BytesIO()
    if swap == "file in a copied directory":
        spec.layers[0].write_tar(HashingWriter(written))
        written.seek(0)
        with tarfile.open(fileobj=written) as tar:
            member = tar.getmember("d/f")
            assert member.issym() and member.linkname == str(outside / "f")
        assert b"host secret" not in written.getvalue()
        return
    with pytest.raises(ContextError, match="replaced by a symlink during the build"):
        spec.layers[0].write_tar(HashingWriter(written))
