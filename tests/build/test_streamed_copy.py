"""A COPY of a context directory is a stream: its layer holds no entry per file, is walked
again when written, writes the bytes the listed route writes, and its memory does not grow
with the file count (issue 16: 200,000 files once cost 1.4 KB each)."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

from evaluation import evaluated
from pybuild.api import parse
from pybuild.build.context import BuildContext
from pybuild.build.ignore import IgnoreRules
from pybuild.errors import ContextError
from pybuild.oci.layer import BuiltLayer
from pybuild.oci.platform import Platform
from pybuild.oci.sinks import CHUNK, SMALL, DiscardSink, HashingWriter

PLATFORM = Platform("linux", "amd64")


def tree(root: Path) -> None:
    """Nested directories, small and large files, symlinks, hard links, an empty directory."""
    (root / "src" / "a" / "b").mkdir(parents=True)
    (root / "src" / "empty").mkdir()
    (root / "src" / "top.txt").write_bytes(b"top")
    (root / "src" / "a" / "b" / "deep.bin").write_bytes(os.urandom(SMALL))  # read in the walk
    (root / "src" / "a" / "large.bin").write_bytes(os.urandom(SMALL + 1))  # streamed later
    (root / "src" / "a" / "huge.bin").write_bytes(os.urandom(2 * CHUNK + 5))
    (root / "src" / "a" / "zero").write_bytes(b"")
    (root / "src" / "link").symlink_to("a/b/deep.bin")
    os.link(root / "src" / "top.txt", root / "src" / "a" / "hard")
    (root / "src" / "skipped.log").write_text("ignored")
    (root / "src" / "mode.sh").write_text("#!/bin/sh\n")
    (root / "src" / "mode.sh").chmod(0o751)


def test_a_streamed_layer_writes_what_the_listed_route_writes(tmp_path):
    tree(tmp_path)
    context = BuildContext(tmp_path, IgnoreRules(["src/*.log"]))
    spec = evaluated(parse("FROM scratch\nCOPY src /dest/\n"), context, PLATFORM)
    (layer,) = spec.layers
    assert layer.streams and [entry.path for entry in layer.listed] == ["dest"]
    assert context.excluded == ["src/skipped.log"]  # noted at the COPY, for explain
    streamed = io.BytesIO()
    layer.write_tar(HashingWriter(streamed))
    entries = {entry.path: entry for entry in layer.entries}
    assert "dest/skipped.log" not in entries and entries["dest/a/hard"].link_group
    listed = io.BytesIO()
    BuiltLayer.of(entries, layer.created_by).write_tar(HashingWriter(listed))
    assert streamed.getvalue() == listed.getvalue()
    files = [e for e in entries.values() if e.kind != "dir"]
    assert (
        layer.totals()
        == (len(files), sum(e.size for e in files))
        == (8, 2 * CHUNK + 2 * SMALL + 22)
    )


def test_a_directory_copied_with_another_source_is_listed(tmp_path):
    tree(tmp_path)
    (tmp_path / "extra.txt").write_text("x")
    context = BuildContext(tmp_path)
    spec = evaluated(parse("FROM scratch\nCOPY src extra.txt /dest/\n"), context, PLATFORM)
    (layer,) = spec.layers
    assert not layer.streams and "dest/a/b/deep.bin" in {e.path for e in layer.listed}


def peak_bytes(root: Path, count: int) -> int:
    """tracemalloc's peak while a COPY of `count` small files is evaluated and written."""
    for number in range(count):
        folder = root / "files" / f"d{number // 250:03d}"  # a listing is held while walked
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{number:05d}").write_bytes(b"%d" % number * 40)
    dockerfile = parse("FROM scratch\nCOPY files /files\n")
    tracemalloc.start()
    try:
        spec = evaluated(dockerfile, BuildContext(root), PLATFORM)
        spec.layers[0].write_tar(DiscardSink())  # (writes gathered into 1 MiB: both fill it)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file_count(tmp_path):
    few, many = peak_bytes(tmp_path / "few", 2_000), peak_bytes(tmp_path / "many", 10_000)
    # Directories of 250 files: what is held is one listing and the walk's path, whatever
    # the count. Listed, as before issue 16, 8,000 more files took over 10 MB more.
    assert many - few < 100_000, (few, many)


def test_a_path_brought_back_below_an_excluded_directory_keeps_its_parent(tmp_path):
    """`!` rules: the excluded directory is not copied, but what they bring back needs it,
    owned as the COPY says (review of issue 16: a stream had left it out)."""
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "sub" / "keep").write_text("k")
    (tmp_path / "src" / "sub" / "drop").write_text("d")
    for context, flags in [
        (BuildContext(tmp_path, IgnoreRules(["src/sub", "!src/sub/keep"])), ""),
        (BuildContext(tmp_path), "--exclude=sub --exclude=!sub/keep "),
    ]:
        dockerfile = parse(
            f"# syntax=docker/dockerfile:1.7-labs\nFROM scratch\nCOPY {flags}--chown=1:1 src /app/\n"
        )
        spec = evaluated(dockerfile, context, PLATFORM)
        entries = {entry.path: entry for entry in spec.layers[0].entries}
        assert sorted(entries) == ["app", "app/sub", "app/sub/keep"], flags
        assert (entries["app/sub"].kind, entries["app/sub"].uid) == ("dir", 1)


def test_an_unreadable_path_found_later_names_the_copy_that_holds_it(tmp_path):
    """The directory is walked when its layer is read, wherever that happens (the next
    instruction's look at the stage's files, the layer's totals): the error names the COPY."""
    (tmp_path / "src").mkdir()
    os.mkfifo(tmp_path / "src" / "pipe")
    (tmp_path / "other").write_text("o")
    dockerfile = parse("FROM scratch\nCOPY src /app/\nCOPY other /app/o\n")
    try:
        spec = evaluated(dockerfile, BuildContext(tmp_path), PLATFORM)
        spec.layers[0].totals()
    except ContextError as error:
        assert error.location is not None and error.location.line == 2, error.render()
        assert "unsupported file type" in error.message
    else:
        raise AssertionError("a FIFO in a copied directory went unreported")
