"""Every output type and compression: valid when reopened, the same image everywhere, byte-
identical across builds and umasks, and accepted by the real tools (skopeo, umoci,
oci-image-tool, podman, docker)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLES, require_tool
from pybuild import api
from pybuild.errors import UsageError
from pybuild.oci.compression import Compression
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output

COMBINATIONS = [
    (kind, compression)
    for kind in ("docker", "oci", "oci-dir")
    for compression in ("uncompressed", "gzip", "zstd")
]


def build(
    tmp_path: Path, output: str, sample: str = "webserver", tags=("web:1",)
) -> api.BuildResult:
    return api.build(
        api.BuildOptions(
            context=SAMPLES / sample,
            tags=tags,
            output=parse_output(output),
            platform="linux/amd64",
            source_date_epoch=None,
        )
    )


@pytest.fixture(scope="module", autouse=True)
def busybox():
    if not (SAMPLES / "webserver" / "busybox").exists():
        subprocess.run(["make", "-C", str(SAMPLES), "webserver/busybox"], check=True)


def test_parse_output():
    assert parse_output("x.tar") == parse_output("type=docker,dest=x.tar")
    spec = parse_output("type=oci,dest=o.tar,compression=zstd,compression-level=9")
    assert (spec.type, spec.dest, spec.compression) == ("oci", "o.tar", Compression("zstd", 9))
    assert parse_output("type=oci-dir,dest=d").compression == Compression("gzip")
    assert parse_output("-").dest == "-"
    for bad in (
        "type=zip,dest=x",
        "type=oci-dir",
        "type=oci,dest=x,compression=lz4",
        "type=oci,dest=x,colour=red",
        "type=oci,dest=x,compression=gzip,compression-level=99",
    ):
        with pytest.raises(UsageError):
            parse_output(bad)
    with pytest.raises(UsageError, match="--load needs type=docker"):
        parse_output("type=oci,dest=x.tar", load=True)


@pytest.mark.parametrize("kind, compression", COMBINATIONS)
def test_every_type_and_compression_is_valid_and_the_same_image(tmp_path, kind, compression):
    dest = tmp_path / ("out" if kind == "oci-dir" else "out.tar")
    result = build(tmp_path, f"type={kind},dest={dest},compression={compression}")
    contents = validate_archive(dest)
    assert (contents.manifest is not None) == (kind == "docker")
    assert result.image_id == build(tmp_path, str(tmp_path / "plain.tar")).image_id
    media = {layer["mediaType"] for layer in contents.oci_manifest["layers"]}
    suffix = {"uncompressed": "", "gzip": "+gzip", "zstd": "+zstd"}[compression]
    assert media == {"application/vnd.oci.image.layer.v1.tar" + suffix}
    annotations = contents.index["manifests"][0]["annotations"]
    assert annotations["org.opencontainers.image.ref.name"] == "1"


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_outputs_are_byte_identical_across_builds(tmp_path, compression):
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    build(tmp_path, f"type=oci,dest={first},compression={compression}")
    build(tmp_path, f"type=oci,dest={second},compression={compression}")
    assert first.read_bytes() == second.read_bytes()


def test_umask_does_not_leak_into_the_image(tmp_path):
    outputs = []
    for umask in ("022", "077"):
        out = tmp_path / f"{umask}.tar"
        subprocess.run(
            [
                "sh",
                "-c",
                f'umask {umask} && "$0" -m pybuild -q -t w:1 -o "$1" "$2"',
                sys.executable,
                str(out),
                str(SAMPLES / "greet"),
            ],
            check=True,
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_oci_dir_replaces_an_earlier_layout_but_nothing_else(tmp_path):
    dest = tmp_path / "layout"
    build(tmp_path, f"type=oci-dir,dest={dest}")
    build(tmp_path, f"type=oci-dir,dest={dest},compression=zstd")
    assert validate_archive(dest).oci_manifest["layers"][0]["mediaType"].endswith("+zstd")
    assert [p.name for p in tmp_path.iterdir()] == ["layout"]  # no partial directory left
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious").write_text("keep")
    with pytest.raises(UsageError, match="not pybuild's oci-dir output"):
        build(tmp_path, f"type=oci-dir,dest={other}")
    assert (other / "precious").read_text() == "keep"


def test_a_users_directory_is_never_replaced(tmp_path):
    """Only directories pybuild wrote are replaced: not a project holding a config.json (what a
    bundle holds), not an OCI layout another tool wrote, not a directory behind a symlink."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text("{}")
    (project / "important.txt").write_text("keep")
    with pytest.raises(UsageError, match="not pybuild's bundle output"):
        build(tmp_path, f"type=bundle,dest={project}", sample="hello")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    with pytest.raises(UsageError, match="not pybuild's oci-dir output"):
        build(tmp_path, f"type=oci-dir,dest={foreign}")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="not a directory pybuild wrote"):
        build(tmp_path, f"type=oci-dir,dest={tmp_path / 'link'}")
    bundle = tmp_path / "bundle"
    build(tmp_path, f"type=bundle,dest={bundle}", sample="hello")
    with pytest.raises(UsageError, match="it is pybuild's bundle output"):
        build(tmp_path, f"type=oci-dir,dest={bundle}")
    with pytest.raises(UsageError, match="dest= is empty"):
        build(tmp_path, "type=docker,dest=")
    with pytest.raises(UsageError, match="is a directory"):
        build(tmp_path, str(project))
    assert sorted(p.name for p in project.iterdir()) == ["config.json", "important.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "foreign", "link", "project"]


def test_skopeo_copies_the_oci_archive(tmp_path):
    skopeo = require_tool("skopeo")
    archive = tmp_path / "web.tar"
    build(tmp_path, f"type=oci,dest={archive}")
    subprocess.run(
        [skopeo, "copy", "-q", f"oci-archive:{archive}:1", f"oci:{tmp_path / 'copy'}:copied"],
        check=True,
        capture_output=True,
    )
    assert validate_archive(tmp_path / "copy").index["manifests"]


def test_umoci_unpacks_and_oci_image_tool_validates(tmp_path):
    umoci, image_tool = require_tool("umoci"), require_tool("oci-image-tool")
    layout = tmp_path / "layout"
    build(tmp_path, f"type=oci-dir,dest={layout}")  # gzip: Debian's umoci has no zstd
    checked = subprocess.run(
        [image_tool, "validate", "--type", "image", "--ref", "name=1", str(layout)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    bundle = tmp_path / "bundle"
    subprocess.run(
        [umoci, "unpack", "--image", f"{layout}:1", str(bundle)], check=True, capture_output=True
    )
    assert (bundle / "rootfs" / "www" / "index.html").read_text().startswith("<!doctype html>")
    assert (bundle / "rootfs" / "bin" / "busybox").stat().st_mode & 0o111


@pytest.mark.parametrize("kind", ["docker", "oci"])
def test_podman_loads_both_archive_types(tmp_path, kind):
    podman = require_tool("podman")
    archive = tmp_path / "image.tar"
    build(
        tmp_path, f"type={kind},dest={archive},compression=gzip", tags=(f"pybuild-podman-{kind}:1",)
    )
    loaded = subprocess.run([podman, "load", "-i", str(archive)], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert f"pybuild-podman-{kind}:1" in loaded.stdout
    subprocess.run([podman, "rmi", f"pybuild-podman-{kind}:1"], capture_output=True)


@pytest.mark.engine
@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_docker_loads_and_runs_compressed_layers(engine, tmp_path, compression):
    archive = tmp_path / "image.tar"
    build(
        tmp_path,
        f"type=docker,dest={archive},compression={compression}",
        sample="hello",
        tags=(f"pybuild-{compression}:1",),
    )
    engine.load(archive)
    assert engine.run(f"pybuild-{compression}:1").stdout == b"Hello from a pybuild image!\n"


@pytest.mark.engine
def test_load_streams_into_docker_and_leaves_no_file(engine, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "--load",
            "-q",
            "-t",
            "pybuild-load:1",
            str(SAMPLES / "hello"),
        ],
        cwd=tmp_path,
        capture_output=True,
        env=engine.env,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    engine.images.add("pybuild-load:1")
    assert list(tmp_path.iterdir()) == []
    assert engine.inspect("pybuild-load:1")["Id"] == result.stdout.strip()


def test_a_directory_output_is_swapped_in_one_step(tmp_path, monkeypatch):
    """The new layout and the old swap places at once (renameat2 RENAME_EXCHANGE), and where
    the kernel lacks it the old one is renamed aside first; either way nothing is left beside
    the destination."""
    from pybuild.outputs import files

    dest = tmp_path / "layout"
    build(tmp_path, f"type=oci-dir,dest={dest}")
    swaps = []
    real = files._exchange
    monkeypatch.setattr(files, "_exchange", lambda a, b: swaps.append(real(a, b)) or swaps[-1])
    build(tmp_path, f"type=oci-dir,dest={dest},compression=zstd")
    assert swaps == [True]  # this kernel and file system have RENAME_EXCHANGE
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    build(tmp_path, f"type=oci-dir,dest={dest},compression=gzip")
    assert validate_archive(dest).oci_manifest["layers"][0]["mediaType"].endswith("+gzip")
    assert [p.name for p in tmp_path.iterdir()] == ["layout"]


def test_a_second_build_into_a_directory_being_written_fails_cleanly(tmp_path):
    """Two builds into one destination: while one holds it, the other fails at once with one
    line and touches nothing."""
    import fcntl
    import os

    dest = tmp_path / "layout"
    build(tmp_path, f"type=oci-dir,dest={dest}")
    before = sorted(p.name for p in dest.iterdir())
    held = os.open(tmp_path / ".layout.pybuild-lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        with pytest.raises(UsageError, match="being written by another pybuild"):
            build(tmp_path, f"type=oci-dir,dest={dest},compression=zstd")
    finally:
        os.close(held)
    assert sorted(p.name for p in dest.iterdir()) == before
    build(tmp_path, f"type=oci-dir,dest={dest},compression=zstd")  # free again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layout"]


def test_a_build_killed_at_any_moment_leaves_the_old_or_the_new_output(tmp_path):
    """SIGKILL at many moments of rebuilds into one layout: the destination always validates
    as a complete image, the old or the new one, never a mixture or half-deleted."""
    import random
    import signal
    import time

    context = tmp_path / "ctx"
    context.mkdir()
    for index in range(200):
        (context / f"f{index}.txt").write_text(f"{index}\n" * 200)
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /data/\n")
    dest = tmp_path / "layout"
    command = [sys.executable, "-m", "pybuild", "--no-cache", "-q", "-t", "k:1"]
    subprocess.run([*command, "-o", f"type=oci-dir,dest={dest}", str(context)], check=True)
    digests = {validate_archive(dest).oci_manifest["layers"][0]["digest"]}
    randomly = random.Random(7)
    for attempt in range(12):
        compression = ("gzip", "zstd", "uncompressed")[attempt % 3]
        process = subprocess.Popen(
            [*command, "-o", f"type=oci-dir,dest={dest},compression={compression}", str(context)]
        )
        time.sleep(randomly.uniform(0.2, 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        layers = validate_archive(dest).oci_manifest["layers"]  # complete, whichever it is
        digests.add(layers[0]["digest"])
    assert len(digests) > 1  # some kills came after the swap: the new one stood complete
    subprocess.run([*command, "-o", f"type=oci-dir,dest={dest}", str(context)], check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctx", "layout"]  # leftovers gone
