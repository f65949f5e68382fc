"""The layer cache: unchanged rebuilds write nothing, changes rebuild, corrupt entries are never
used, nothing half-written is left, and --no-cache stays out of it."""

from __future__ import annotations

import io
import os
import shutil

import pytest

from conftest import SAMPLES
from pybuild import api
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output


def build(context, out, cache, output=None):
    return api.build(
        api.BuildOptions(
            context=context,
            tags=("c:1",),
            output=parse_output(output or str(out)),
            cache_dir=cache,
            source_date_epoch=None,
        )
    )


def make_context(tmp_path):
    context = tmp_path / "ctx"
    shutil.copytree(SAMPLES / "greet", context)
    return context


def test_unchanged_rebuild_writes_nothing(tmp_path):
    context, out, cache = make_context(tmp_path), tmp_path / "out.tar", tmp_path / "cache"
    first = build(context, out, cache)
    before = os.stat(out)
    second = build(context, out, cache)
    assert second.written.up_to_date and second.image_id == first.image_id
    after = os.stat(out)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_changed_source_or_touched_output_rebuilds(tmp_path):
    context, out, cache = make_context(tmp_path), tmp_path / "out.tar", tmp_path / "cache"
    first = build(context, out, cache)
    (context / "greet").write_bytes((context / "greet").read_bytes() + b"\0")
    second = build(context, out, cache)
    assert not second.written.up_to_date and second.image_id != first.image_id
    validate_archive(out)
    with open(out, "ab") as handle:  # someone changed the output: it is written again
        handle.write(b"\0" * 512)
    third = build(context, out, cache)
    assert not third.written.up_to_date and third.image_id == second.image_id
    validate_archive(out)


def test_cached_compressed_blobs_give_the_same_bytes_and_corrupt_ones_are_rebuilt(tmp_path):
    context, cache = make_context(tmp_path), tmp_path / "cache"
    fresh, cached, repaired = (
        tmp_path / name for name in ("fresh.tar", "cached.tar", "repaired.tar")
    )
    build(context, fresh, cache, f"type=oci,dest={fresh}")
    build(context, cached, cache, f"type=oci,dest={cached}")
    assert cached.read_bytes() == fresh.read_bytes()
    blobs = [p for p in (cache / "blobs" / "sha256").iterdir() if not p.name.startswith(".")]
    assert blobs
    for blob in blobs:
        blob.write_bytes(b"corrupt")
    build(context, repaired, cache, f"type=oci,dest={repaired}")
    assert repaired.read_bytes() == fresh.read_bytes()
    assert all(blob.read_bytes() != b"corrupt" for blob in blobs if blob.exists())


def test_no_partial_cache_files_and_no_cache_means_none(tmp_path):
    context, cache = make_context(tmp_path), tmp_path / "cache"
    build(
        context, tmp_path / "a.tar", cache, f"type=oci,dest={tmp_path / 'a.tar'},compression=zstd"
    )
    assert not [p for p in cache.rglob(".partial-*")]
    build(context, tmp_path / "b.tar", None)
    assert not (tmp_path / "none").exists()


class FullDisk(io.BytesIO):
    """A cache file whose disk fills after the first write."""

    name = ""

    def write(self, data):
        if self.tell():
            raise OSError(28, "No space left on device")
        return super().write(data)


def test_a_cache_that_cannot_be_written_never_fails_the_build(tmp_path, monkeypatch):
    from pybuild.oci.blobstore import BlobStore
    from pybuild.oci.compression import Compression
    from pybuild.oci.model import LayerBlob

    store = BlobStore(tmp_path / "cache")
    gzip = Compression("gzip")
    out = io.BytesIO()

    def make(sink):
        sink.write(b"first")
        sink.write(b"second")
        return LayerBlob("sha256:d", "sha256:" + "0" * 64, 11)

    full = FullDisk()
    full.name = str(tmp_path / "spare")
    monkeypatch.setattr("tempfile.NamedTemporaryFile", lambda **kwargs: full)
    blob = store.write_through("key", gzip, out, make=make)
    assert out.getvalue() == b"firstsecond" and blob.size == 11
    assert store.lookup("key") is None  # not remembered: its blob was not kept whole
    monkeypatch.undo()

    def interrupted(sink):
        sink.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.write_through("other", gzip, io.BytesIO(), make=interrupted)
    assert [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
