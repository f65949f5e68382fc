"""Keeping the store in bounds: least recently used first, by size or age, never what a build
under way just used; a build whose blob was pruned builds the layer again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pybuild import api
from pybuild.errors import UsageError
from pybuild.oci.blobstore import BlobStore
from pybuild.outputs.spec import parse_output


def files(root: Path, count: int, size: int, *, age: float, first: int = 0) -> list[Path]:
    made = []
    for number in range(first, first + count):
        path = root / "blobs" / "sha256" / f"{number:064x}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        moment = time.time() - age - (number - first)  # higher numbers: used longer ago
        os.utime(path, (moment, moment))
        made.append(path)
    return made


def test_least_recently_used_go_first_down_to_the_size_asked(tmp_path):
    made = files(tmp_path, 5, 1000, age=3600)
    done = BlobStore(tmp_path).prune(keep_bytes=2500)
    assert (done.removed, done.freed, done.kept) == (3, 3000, 2000)
    assert [path.exists() for path in made] == [True, True, False, False, False]


def test_age_and_the_grace_of_files_in_use(tmp_path):
    old = files(tmp_path, 2, 10, age=3 * 86400)
    recent = files(tmp_path, 1, 10, age=5, first=10)  # used seconds ago: a build may need it
    store = BlobStore(tmp_path)
    store.prune(unused_for=86400)
    assert not any(path.exists() for path in old) and recent[0].exists()
    store.prune()  # everything, but what is in use
    assert recent[0].exists()


def test_a_build_after_pruning_builds_the_layer_again(tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "f").write_bytes(os.urandom(100_000))
    (context / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    cache = tmp_path / "cache"

    def build(name: str) -> api.BuildResult:
        return api.build(
            api.BuildOptions(
                context=context,
                tags=("p:1",),
                cache_dir=cache,
                output=parse_output(f"type=oci,dest={tmp_path / name}"),
            )
        )

    first = build("a.tar")
    assert BlobStore(cache).prune(grace=0).removed > 0
    second = build("b.tar")
    assert second.written.manifest_digest == first.written.manifest_digest


def test_sizes_durations_and_the_command_line(tmp_path):
    assert api.parse_size("10GB", "x") == 10**10 and api.parse_size("2MiB", "x") == 2 * 2**20
    assert api.parse_duration("1h30m", "x") == 5400 and api.parse_duration("7d", "x") == 604800
    for bad in ("ten", "5 parsecs"):
        with pytest.raises(UsageError):
            api.parse_size(bad, "--keep-storage")
    files(tmp_path, 3, 1000, age=3600)
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "prune",
            "--cache-dir",
            str(tmp_path),
            "--keep-storage",
            "1kB",
        ],
        capture_output=True,
        text=True,
    )
    assert answer.returncode == 0 and answer.stdout.startswith("removed 2 files, 0.0 MB")
    wrong = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "prune",
            "--cache-dir",
            str(tmp_path),
            "--filter",
            "label=x",
        ],
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 1 and "until=DURATION" in wrong.stderr


def test_prune_leaves_what_pybuild_did_not_write(tmp_path):
    """Pointed at a directory that holds other things (~/.cache by mistake), prune deletes
    only the store's own folders."""
    files(tmp_path, 2, 100, age=3600)
    theirs = tmp_path / "notes.txt"
    theirs.write_text("mine")
    other_app = tmp_path / "other-app" / "cache.db"
    other_app.parent.mkdir()
    other_app.write_text("theirs")
    for path in (theirs, other_app):
        os.utime(path, (time.time() - 86400 * 30,) * 2)
    done = BlobStore(tmp_path).prune()
    assert done.removed == 2 and theirs.exists() and other_app.exists()


def test_a_bad_cache_cap_is_said_before_the_build(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBUILD_CACHE_MAX", "lots")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    out = tmp_path / "o.tar"
    with pytest.raises(UsageError, match="PYBUILD_CACHE_MAX"):
        api.build(api.BuildOptions(context=context, tags=("c:1",), output=parse_output(str(out))))
    assert not out.exists()
