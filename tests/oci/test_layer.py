"""Layer tars: the fast header path writes tarfile's bytes, a layer's tar is what tarfile
would write for the same members, files that change while read are errors, and compressed
blobs depend only on the tar's bytes, not on how it was written."""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

import pytest

from pybuild.errors import ContextError
from pybuild.oci.compression import Compression
from pybuild.oci.layer import BuiltLayer, LayerEntry
from pybuild.oci.sinks import CHUNK


def tarfile_header(entry: LayerEntry, hard_link_to: str | None = None) -> bytes:
    info = entry.tarinfo()
    if hard_link_to is not None:
        info.type, info.size, info.linkname = tarfile.LNKTYPE, 0, hard_link_to
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


EDGE_ENTRIES = [
    LayerEntry("a", "file", 0o644, size=1),
    LayerEntry("d", "dir", 0o755),
    LayerEntry("d/", "dir", 0o700),
    LayerEntry("x" * 100, "file", 0o644),  # the longest name without a pax record
    LayerEntry("x" * 101, "file", 0o644),  # one more: a pax record
    LayerEntry("x" * 99, "dir", 0o755),  # 100 with its slash
    LayerEntry("x" * 100, "dir", 0o755),  # 101 with its slash
    LayerEntry("café", "file", 0o644),  # not ASCII: a pax record
    LayerEntry("link", "symlink", 0o777, linkname="t" * 100),
    LayerEntry("link2", "symlink", 0o777, linkname="t" * 101),
    LayerEntry("s", "file", 0o4755 | 0o2000 | 0o1000, uid=8**7 - 1, gid=1000),
    LayerEntry("big-uid", "file", 0o644, uid=8**7),
    LayerEntry("huge", "file", 0o644, size=8**11 - 1),
    LayerEntry("too-big", "file", 0o644, size=8**11),
    LayerEntry("late", "file", 0o644, mtime=8**11 - 1),
    LayerEntry("later", "file", 0o644, mtime=8**11),
]


@pytest.mark.parametrize("entry", EDGE_ENTRIES, ids=lambda entry: f"{entry.kind}:{entry.path[:12]}")
def test_headers_are_tarfiles_bytes(entry):
    assert entry.header() == tarfile_header(entry)
    assert entry.header(hard_link_to="first/name") == tarfile_header(entry, "first/name")


def test_random_headers_are_tarfiles_bytes():
    rng = random.Random(7)
    alphabet = "abcXYZ019._-/ é"
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120))).strip("/") or "n"
        kind = rng.choice(["file", "dir", "symlink"])
        entry = LayerEntry(
            name,
            kind,
            rng.randint(0, 0o7777),
            rng.choice([0, 1, 65534, 8**7]),
            rng.choice([0, 50, 8**7 - 1]),
            rng.choice([0, 1, 513, 8**11 - 1]),
            rng.choice([0, 1700000000, 8**11]),
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 110)))
            if kind == "symlink"
            else "",
        )
        assert entry.header() == tarfile_header(entry), entry


def make_layer(tmp_path: Path) -> BuiltLayer:
    rng = random.Random(3)
    entries = {}
    for number in range(300):
        path = tmp_path / f"f{number}"
        path.write_bytes(rng.randbytes(rng.choice([0, 1, 511, 512, 513, 4000])))
        entries[f"files/f{number}"] = LayerEntry(
            f"files/f{number}", "file", 0o644, size=path.stat().st_size, source=path
        )
    large = tmp_path / "large"
    large.write_bytes(rng.randbytes(3 * CHUNK + 77))
    entries["files/large"] = LayerEntry(
        "files/large", "file", 0o600, size=large.stat().st_size, source=large
    )
    entries["files"] = LayerEntry("files", "dir", 0o755)
    entries["inline"] = LayerEntry("inline", "file", 0o644, size=5, data=b"hello")
    linked = tmp_path / "f7"
    for name in ("hard1", "hard2"):
        entries[name] = LayerEntry(
            name, "file", 0o644, size=linked.stat().st_size, source=linked, link_group="inode:7"
        )
    return BuiltLayer.of(entries, "COPY test")


def test_a_layer_is_the_tar_tarfile_writes_for_its_members(tmp_path):
    layer = make_layer(tmp_path)
    ours = io.BytesIO()
    layer.write_tar(ours)
    theirs = io.BytesIO()
    with tarfile.open(fileobj=theirs, mode="w", format=tarfile.PAX_FORMAT) as archive:
        first: dict[str, str] = {}
        for entry in layer.entries:
            info = entry.tarinfo()
            if entry.link_group in first:
                info.type, info.size, info.linkname = tarfile.LNKTYPE, 0, first[entry.link_group]
                archive.addfile(info)
                continue
            if entry.link_group:
                first[entry.link_group] = entry.path
            data = (
                entry.data
                if entry.data is not None
                else (entry.source.read_bytes() if entry.source else b"")
            )
            archive.addfile(info, io.BytesIO(data) if entry.kind == "file" else None)
    written = ours.getvalue()
    assert written == theirs.getvalue()[: len(written)]
    assert not theirs.getvalue()[len(written) :].strip(b"\0")  # tarfile pads to a 10 KiB record


@pytest.mark.parametrize("size", [100, 3 * CHUNK])
def test_a_file_that_changed_size_since_it_was_planned_is_an_error(tmp_path, size):
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    for wrong in (size - 1, size + 1):
        layer = BuiltLayer.of(
            {"f": LayerEntry("f", "file", 0o644, size=wrong, source=path)}, "COPY f /"
        )
        with pytest.raises(ContextError, match="changed while it was being read"):
            layer.write_tar(io.BytesIO())


def test_an_unreadable_source_is_an_error_naming_it(tmp_path):
    layer = BuiltLayer.of(
        {"f": LayerEntry("f", "file", 0o644, size=1, source=tmp_path / "gone", origin="gone")},
        "COPY gone /",
    )
    with pytest.raises(ContextError, match="cannot read gone"):
        layer.write_tar(io.BytesIO())


@pytest.mark.parametrize("name", ["gzip", "zstd"])
def test_compressed_bytes_depend_on_the_stream_not_on_how_it_was_written(name):
    data = os.urandom(3 * CHUNK) + b"text " * 400_000
    outputs = set()
    for size in (1000, 4096, 512 * 3, CHUNK, CHUNK + 1, len(data)):
        sink = io.BytesIO()
        writer = Compression(name).writer(sink)
        for start in range(0, len(data), size):
            writer.write(data[start : start + size])
        writer.close()
        outputs.add(sink.getvalue())
    assert len(outputs) == 1
