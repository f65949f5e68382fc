"""The one archive reader against hostile and broken inputs: each is one clear line naming the
file, through the library and through the CLI (inspect, and FROM a --build-context), never a
traceback, and nothing outside the archive or directory is read."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pybuild.oci.archive import ArchiveError, ImageArchive


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def docker_archive(layer: bytes, config_name: str = "config.json", **manifest) -> bytes:
    config = json.dumps(
        {
            "os": "linux",
            "architecture": "amd64",
            "rootfs": {"type": "layers", "diff_ids": [sha(layer)]},
        }
    ).encode()
    entry = {"Config": config_name, "RepoTags": ["t:1"], "Layers": ["l.tar"], **manifest}
    return tar_bytes(
        {"config.json": config, "l.tar": layer, "manifest.json": json.dumps([entry]).encode()}
    )


def oci_layout(index_manifests: list) -> bytes:
    return tar_bytes(
        {
            "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
            "index.json": json.dumps({"schemaVersion": 2, "manifests": index_manifests}).encode(),
        }
    )


def empty_nested_index() -> bytes:
    nested = b'{"schemaVersion":2,"manifests":[]}'
    return tar_bytes(
        {
            "index.json": json.dumps(
                {
                    "manifests": [
                        {
                            "mediaType": "application/vnd.oci.image.index.v1+json",
                            "digest": sha(nested),
                            "size": len(nested),
                        }
                    ]
                }
            ).encode(),
            f"blobs/sha256/{sha(nested)[7:]}": nested,
        }
    )


GOOD_LAYER = tar_bytes({"etc/motd": b"hi"})
CASES = {
    "not-a-tar": (b"hello, not a tar at all" * 40, "not a tar archive"),
    "cut-between-members": (docker_archive(GOOD_LAYER)[:1200], "not an image archive"),
    "manifest-list-empty": (tar_bytes({"manifest.json": b"[]"}), "lists no image"),
    "manifest-an-object": (tar_bytes({"manifest.json": b"{}"}), "lists no image"),
    "config-missing": (docker_archive(GOOD_LAYER, config_name="gone.json"), "lacks gone.json"),
    "config-outside": (docker_archive(GOOD_LAYER, config_name="../config.json"), "points outside"),
    "index-not-objects": (oci_layout([1, "two"]), "not a JSON object"),
    "index-bad-digest": (oci_layout([{"digest": "sha256:../../x", "size": 1}]), "malformed digest"),
    "index-upper-case": (oci_layout([{"digest": "sha256:" + "A" * 64, "size": 1}]), "lower-case"),
    "index-sha512-short": (
        oci_layout([{"digest": "sha512:" + "a" * 64, "size": 1}]),
        "sha512 is 128 lower-case hex",
    ),
    "index-sha512": (
        oci_layout([{"digest": "sha512:" + "a" * 128, "size": 1}]),
        "verifies sha256 digests only",
    ),
    "config-dotdot-inside": (
        docker_archive(GOOD_LAYER, config_name="blobs/../config.json"),
        "points outside",
    ),
    "nested-index-empty": (empty_nested_index(), "lists no manifest"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_broken_archives_are_one_clear_error(tmp_path, case):
    data, message = CASES[case]
    path = tmp_path / f"{case}.tar"
    path.write_bytes(data)
    with pytest.raises(ArchiveError, match=message) as caught:
        with ImageArchive(path) as archive:
            archive.image()
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    as_inspected_and_as_a_base(tmp_path, path)


def context(tmp_path: Path) -> Path:
    directory = tmp_path / "ctx"
    directory.mkdir(exist_ok=True)
    (directory / "Dockerfile").write_text("FROM base\n")
    return directory


def fails_clearly(*args: str) -> str:
    """Run the CLI; it must fail with exit code 1 and a short message, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "pybuild", *args], capture_output=True, text=True
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr  # message, line, caret
    return result.stderr


def as_inspected_and_as_a_base(tmp_path: Path, archive: Path) -> list[str]:
    """What `inspect ARCHIVE` and `FROM base` with `--build-context base=ARCHIVE` say."""
    out = tmp_path / "out.tar"
    errors = [
        fails_clearly("inspect", str(archive)),
        fails_clearly(
            "--no-cache",
            "-t",
            "x:1",
            "-o",
            str(out),
            "--build-context",
            f"base=docker-archive:{archive}",
            str(context(tmp_path)),
        ),
    ]
    assert not out.exists()
    return errors


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../escape": b"x"}, "climbs out of the root"),
        ({"etc": b"a file"}, None),  # then etc/x below a file, in the next layer
    ],
)
def test_hostile_layers_are_refused_when_used_as_a_base(tmp_path, members, message):
    first = tar_bytes(members)
    layers = [first] if message else [first, tar_bytes({"etc/x": b"y"})]
    config = json.dumps(
        {"rootfs": {"type": "layers", "diff_ids": [sha(x) for x in layers]}}
    ).encode()
    names = [f"l{number}.tar" for number in range(len(layers))]
    archive = tmp_path / "base.tar"
    archive.write_bytes(
        tar_bytes(
            {
                "config.json": config,
                **dict(zip(names, layers, strict=True)),
                "manifest.json": json.dumps([{"Config": "config.json", "Layers": names}]).encode(),
            }
        )
    )
    stderr = fails_clearly(
        "--no-cache",
        "-t",
        "x:1",
        "-o",
        str(tmp_path / "out.tar"),
        "--build-context",
        f"base=docker-archive:{archive}",
        str(context(tmp_path)),
    )
    assert (message or "lies below /etc, which is a file") in stderr
    assert not (tmp_path / "escape").exists() and not (tmp_path / "out.tar").exists()


def test_a_layout_directory_never_reads_outside_itself(tmp_path):
    secret = tmp_path / "secret.tar"
    secret.write_bytes(tar_bytes({"secret": b"s"}))
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "manifest.json").write_text(
        json.dumps([{"Config": "config.json", "Layers": ["../secret.tar"]}])
    )
    (layout / "config.json").write_text("{}")
    with pytest.raises(ArchiveError, match="points outside"):
        with ImageArchive(layout) as archive:
            archive.image()


def test_a_layer_that_is_not_a_tar_is_an_error_not_a_traceback(tmp_path):
    layer = b"\x00" * 10 + b"definitely not a tar" * 30
    archive = tmp_path / "base.tar"
    archive.write_bytes(docker_archive(layer))
    stderr = as_inspected_and_as_a_base(tmp_path, archive)[1]
    assert "not a readable tar" in stderr


def test_an_archive_cut_inside_a_layer_is_an_error_when_the_layer_is_read(tmp_path):
    layer = tar_bytes({"big": bytes(range(256)) * 64})
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
    whole = tar_bytes(
        {
            "manifest.json": json.dumps([{"Config": "c.json", "Layers": ["l.tar"]}]).encode(),
            "c.json": config,
            "l.tar": layer,
        }
    )
    path = tmp_path / "cut.tar"
    path.write_bytes(whole[: len(whole) - len(layer) // 2 - 2048])
    with pytest.raises(ArchiveError, match="unexpected end of data|cut short"):
        with ImageArchive(path) as archive:  # found when opened, or else when the layer is read
            with archive.open(archive.image().layer_names[0]) as handle:
                assert handle is not None
                handle.read()
    assert all(str(path) in stderr for stderr in as_inspected_and_as_a_base(tmp_path, path))


def test_archives_made_with_a_dot_prefix_are_read(tmp_path):
    """`tar -C dir -cf x.tar .` names members ./manifest.json and the like."""
    plain = tmp_path / "plain.tar"
    plain.write_bytes(docker_archive(GOOD_LAYER))
    dotted = tmp_path / "dotted.tar"
    with tarfile.open(plain) as source, tarfile.open(dotted, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            member.name = "./" + member.name
            target.addfile(member, io.BytesIO(data))
    with ImageArchive(dotted) as archive:
        found = archive.image()
        assert archive.size(found.layer_names[0]) == len(GOOD_LAYER)
        with archive.open(found.layer_names[0]) as handle:
            assert handle is not None and handle.read() == GOOD_LAYER
