"""Runtime bundles: runc runs them; layers apply with whiteouts, never outside rootfs; the
config carries the image's process; as non-root nothing needs chown."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid

import pytest

from conftest import IN_CI, SAMPLES
from pybuild import api
from pybuild.errors import UsageError
from pybuild.oci.layer import read_entries
from pybuild.oci.model import RunConfig
from pybuild.oci.rootfs import InvalidLayer, union
from pybuild.outputs.bundle import runtime_config, write_rootfs
from pybuild.outputs.spec import parse_output


def layer(*members) -> io.BytesIO:
    """members: (name, data) for files, (name, None) for directories, (name, '->target') links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, *mode in members:
            info = tarfile.TarInfo(name)
            info.mode = mode[0] if mode else 0o644
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data[2:]
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def write(tmp_path, *layers, as_root: bool):
    """Each layer (a tar in memory) saved to a file and read back as entries, their union
    written into tmp_path/rootfs, which is returned."""
    read = []
    for number, data in enumerate(layers):
        path = tmp_path / f"layer{number}.tar"
        path.write_bytes(data.getvalue())
        read.append(read_entries(path, "test"))
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir(exist_ok=True)
    write_rootfs(union(read), rootfs, as_root)
    return rootfs


def test_layers_apply_in_order_with_whiteouts_and_opaque_directories(tmp_path):
    rootfs = write(
        tmp_path,
        layer(
            ("etc", None),
            ("etc/old", b"old"),
            ("cache", None),
            ("cache/a", b"a"),
            ("bin/tool", b"v1", 0o755),
        ),
        layer(
            ("etc/.wh.old", b""),
            ("cache/.wh..wh..opq", b""),
            ("cache/b", b"b"),
            ("bin/tool", b"v2", 0o755),
        ),
        as_root=os.geteuid() == 0,
    )
    assert not (rootfs / "etc" / "old").exists()
    assert sorted(p.name for p in (rootfs / "cache").iterdir()) == ["b"]
    assert (rootfs / "bin" / "tool").read_bytes() == b"v2"
    assert (rootfs / "bin" / "tool").stat().st_mode & 0o777 == 0o755


def test_nothing_is_written_through_a_symlink_or_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(InvalidLayer, match="below /escape, which is a symlink"):
        write(
            tmp_path, layer(("escape", f"->{outside}")), layer(("escape/file", b"x")), as_root=False
        )
    second = tmp_path / "second"
    second.mkdir()
    with pytest.raises(InvalidLayer, match="climbs out of the root"):  # as Docker refuses it
        write(second, layer(("../../up", b"x"), ("inside", b"y")), as_root=False)
    assert list(outside.iterdir()) == []


def test_as_non_root_setuid_bits_are_dropped_and_nothing_is_chowned(tmp_path):
    rootfs = write(tmp_path, layer(("su", b"x", 0o4755)), as_root=False)
    assert (rootfs / "su").stat().st_mode & 0o7777 == 0o755


def test_runtime_config_runs_entrypoint_and_cmd_as_the_image_user(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("app:x:1000:1001::/home/app:/bin/sh\n")
    config = runtime_config(
        RunConfig(entrypoint=("/e",), cmd=("a",), env=("A=1",), working_dir="/w", user="app"),
        tmp_path,
    )
    process = config["process"]
    assert process["args"] == ["/e", "a"] and process["env"] == ["A=1"] and process["cwd"] == "/w"
    assert process["user"] == {"uid": 1000, "gid": 1001} and process["terminal"] is False
    assert {m["destination"] for m in config["mounts"]} >= {"/proc", "/dev", "/sys"}
    with pytest.raises(UsageError, match="neither ENTRYPOINT nor CMD"):
        runtime_config(RunConfig(), tmp_path)


def test_the_users_table_is_read_inside_the_rootfs_never_the_hosts(tmp_path):
    """An image whose /etc/passwd is a link to /etc/passwd (absolute, as images have them)
    points at its own file, inside rootfs; the host's table is never read for USER."""
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "usr" / "share").mkdir(parents=True)
    (rootfs / "usr" / "share" / "passwd").write_text("app:x:1234:1234::/:/bin/sh\n")
    (rootfs / "etc" / "passwd").symlink_to("/usr/share/passwd")
    config = runtime_config(RunConfig(cmd=("x",), user="app"), rootfs)
    assert config["process"]["user"] == {"uid": 1234, "gid": 1234}
    (rootfs / "etc" / "passwd").unlink()
    # The host's /etc/group has a 'daemon' line; the image has no /etc/group: not found.
    (rootfs / "etc" / "passwd").symlink_to("/etc/group")
    with pytest.raises(UsageError, match="no 'daemon'"):
        runtime_config(RunConfig(cmd=("x",), user="daemon"), rootfs)


def runc() -> str:
    found = shutil.which("runc")
    if found is None or os.geteuid() != 0:
        if IN_CI:
            pytest.fail("CI runs as root with runc (docker.io brings it)")
        pytest.skip("runc run needs runc and root here")
    return found


@pytest.mark.parametrize("sample", ["hello", "greet"])
def test_runc_runs_the_bundle(tmp_path, sample):
    binary = runc()
    bundle = tmp_path / "bundle"
    result = api.build(
        api.BuildOptions(
            context=SAMPLES / sample,
            tags=(f"{sample}:1",),
            output=parse_output(f"type=bundle,dest={bundle}"),
        )
    )
    assert json.loads((bundle / "config.json").read_text())["process"]["args"]
    assert (
        result.image_id
        == api.build(
            api.BuildOptions(
                context=SAMPLES / sample,
                tags=(f"{sample}:1",),
                output=parse_output(str(tmp_path / "a.tar")),
            )
        ).image_id
    )
    name = f"pybuild-{uuid.uuid4().hex[:12]}"
    run = subprocess.run(
        [binary, "run", "--bundle", str(bundle), name], capture_output=True, timeout=60
    )
    subprocess.run([binary, "delete", "-f", name], capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.decode() == (SAMPLES / sample / "expected-output").read_text()


def test_a_copy_of_a_file_is_a_new_file_not_a_hard_link(tmp_path):
    """Files are hard links only within the layer that made them so: COPY --from of a file
    (here one with a second name in the context) gives a file of its own mode and inode."""
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "f").write_text("data")
    os.link(context / "f", context / "f2")
    (context / "Dockerfile").write_text(
        "FROM scratch AS base\nCOPY f f2 /\nFROM base\nCOPY --from=base --chmod=0700 /f /g\n"
        'CMD ["/x"]\n'
    )
    bundle = tmp_path / "bundle"
    api.build(
        api.BuildOptions(
            context=context, tags=("links:1",), output=parse_output(f"type=bundle,dest={bundle}")
        )
    )
    rootfs = bundle / "rootfs"
    assert (rootfs / "f").stat().st_ino == (rootfs / "f2").stat().st_ino  # linked in one layer
    assert (rootfs / "g").stat().st_ino != (rootfs / "f").stat().st_ino
    assert (rootfs / "g").stat().st_mode & 0o777 == 0o700
