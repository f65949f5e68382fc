"""The one union of layers: whiteouts and opaque markers hide only what lower layers put there,
wherever the marker stands in its own tar; root-level names keep their dots; a non-directory
over a directory removes what it held; hard links share their target's bytes."""

from __future__ import annotations

import io
import tarfile

from pybuild.oci.layer import LayerEntry, member_path, stream_entries
from pybuild.oci.rootfs import union


def layer(*members: tuple) -> list[LayerEntry]:
    """members: (name,) a directory, (name, bytes) a file, (name, '->t') a symlink,
    (name, '=>t') a hard link to t; read back through the one tar reader."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, *data in members:
            info = tarfile.TarInfo(name)
            if not data:
                info.type = tarfile.DIRTYPE
            elif isinstance(data[0], str):
                info.type = tarfile.SYMTYPE if data[0].startswith("->") else tarfile.LNKTYPE
                info.linkname = data[0][2:]
            else:
                info.size = len(data[0])
            tar.addfile(info, io.BytesIO(data[0]) if data and isinstance(data[0], bytes) else None)
    buffer.seek(0)
    return list(stream_entries(buffer, "test"))


def paths(*layers: list[LayerEntry]) -> list[str]:
    return [entry.path for entry in union(layers).files()]


def test_member_names_keep_their_dots_and_never_climb():
    assert member_path("./.hidden") == ".hidden" and member_path(".wh.x") == ".wh.x"
    assert member_path("/etc//passwd") == "etc/passwd" and member_path("./") == ""
    assert member_path("../up") is None and member_path("a/../../up") is None


def test_a_whiteout_at_the_root_deletes_and_a_hidden_file_stays():
    assert paths(layer(("gone", b"1"), (".hidden", b"2")), layer((".wh.gone", b""))) == [".hidden"]


def test_whiteouts_delete_whole_directories_but_not_what_their_own_layer_adds():
    lower = layer(
        ("var",), ("var/lib",), ("var/lib/x", b"1"), ("var/lib/sub",), ("var/lib/sub/y", b"2")
    )
    assert paths(lower, layer(("var/.wh.lib", b""))) == ["var"]
    same_layer = layer(("var/lib",), ("var/lib/new", b"3"), ("var/.wh.lib", b""))
    assert paths(lower, same_layer) == ["var", "var/lib", "var/lib/new"]


def test_an_opaque_marker_hides_lower_contents_even_when_it_comes_last_in_its_tar():
    lower = layer(("opt",), ("opt/old", b"1"))
    upper = layer(("opt",), ("opt/new", b"2"), ("opt/.wh..wh..opq", b""))
    assert paths(lower, upper) == ["opt", "opt/new"]
    at_root = layer(("new", b"2"), (".wh..wh..opq", b""))
    assert paths(lower, at_root) == ["new"]


def test_a_file_over_a_directory_removes_what_the_directory_held():
    assert paths(layer(("d",), ("d/x", b"1")), layer(("d", b"file now"))) == ["d"]


def test_hard_links_share_bytes_with_files_of_lower_layers():
    rootfs = union([layer(("data",), ("data/a", b"same")), layer(("data/b", "=>data/a"))])
    a, b = rootfs.entries["data/a"], rootfs.entries["data/b"]
    assert b.kind == "file" and b.size == 4 and a.link_group and a.link_group == b.link_group
    assert paths(layer(("a", b"1"), ("b", "=>missing"))) == ["a"]  # a broken link is left out


def test_layers_put_on_later_are_applied_in_order_when_first_looked_at():
    from pybuild.oci.rootfs import RootFS

    rootfs = RootFS()
    rootfs.later(layer(("a", b"1"), ("d",), ("d/x", b"x")))
    rootfs.later(layer((".wh.a", b""), ("d/.wh..wh..opq", b""), ("d/y", b"y")))
    copied = rootfs.copy()  # a stage based on this one sees the same, applied on its own
    assert rootfs._pending  # nothing applied yet
    assert sorted(rootfs.entries) == ["d", "d/y"]
    assert not rootfs._pending and rootfs.applied == 2
    copied.apply(layer(("z", b"z")))  # pending layers go first, then this one
    assert sorted(copied.entries) == ["d", "d/y", "z"] and copied.applied == 3
