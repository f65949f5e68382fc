"""Build context: globs, cleaning, symlink resolution that never leaves the context."""

from __future__ import annotations

import os

import pytest

from pybuild.build.context import BuildContext, clean_source, glob_match
from pybuild.build.copying import resolve_sources
from pybuild.dockerfile.instructions import Word
from pybuild.errors import ContextError, Location


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
