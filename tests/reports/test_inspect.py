"""inspect reads every archive kind: pybuild's own outputs, a hand-made one with whiteouts, and
a real `docker save` of an image Docker built."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import SAMPLES
from images import synthetic_archive
from pybuild import api
from pybuild.outputs.spec import parse_output
from pybuild.reports.inspect import InspectError, read_image, render_text


@pytest.mark.parametrize("output", ["type=docker", "type=oci,compression=zstd", "type=oci-dir"])
def test_reads_pybuild_outputs(tmp_path, output):
    dest = tmp_path / ("dir" if "oci-dir" in output else "image.tar")
    result = api.build(
        api.BuildOptions(
            context=SAMPLES / "greet",
            tags=("greet:2",),
            output=parse_output(f"{output},dest={dest}"),
        )
    )
    document = read_image(dest)
    assert [layer["diff_id"] for layer in document["layers"]] == [
        b.diff_id for b in result.written.layers
    ]
    assert document["image_id"] == result.image_id
    assert any(f["path"] == "/opt/greet/bin/greet" for f in document["layers"][1]["files"])
    assert document["layers"][1]["created_by"] == "COPY greet bin/"
    assert "2" in document["tags"] or "greet:2" in document["tags"]


def test_whiteouts_show_as_deletions_and_overrides_are_named(tmp_path):
    archive = tmp_path / "w.tar"
    synthetic_archive(archive)
    document = read_image(archive)
    second = document["layers"][1]
    assert second["deleted"] == ["/etc/old.conf"] and second["opaque"] == ["/var/cache"]
    assert second["overrides"] == ["/bin/tool"]
    text = render_text(document)
    assert (
        "deleted   /etc/old.conf" in text
        and "the last layer overrides 1 file(s): /bin/tool" in text
    )
    assert "layer 1:" not in render_text(document, only_layer=2)


def test_errors_are_clear(tmp_path):
    (tmp_path / "not.tar").write_text("hello")
    with pytest.raises(InspectError, match="not a tar archive"):
        read_image(tmp_path / "not.tar")
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    with pytest.raises(InspectError, match="neither manifest.json nor index.json"):
        read_image(empty)
    result = subprocess.run(
        [sys.executable, "-m", "pybuild", "inspect", str(tmp_path / "missing.tar")],
        capture_output=True,
        text=True,
    )
    assert (
        result.returncode == 1
        and "does not exist" in result.stderr
        and "Traceback" not in result.stderr
    )


@pytest.mark.engine
def test_reads_a_real_docker_save_of_an_image_docker_built(engine, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("a")
    (context / "Dockerfile").write_text('FROM scratch\nCOPY a.txt /data/a.txt\nCMD ["x"]\n')
    built = engine.classic_build(context, context / "Dockerfile", "pybuild-inspect-docker:1")
    assert built.returncode == 0, built.stderr.decode()
    saved = tmp_path / "saved.tar"
    engine.docker("save", "pybuild-inspect-docker:1", "-o", str(saved))
    document = read_image(saved)
    assert document["tags"] == ["pybuild-inspect-docker:1"]
    assert document["image_id"] == engine.inspect("pybuild-inspect-docker:1")["Id"]
    assert len(document["layers"]) == len(
        engine.inspect("pybuild-inspect-docker:1")["RootFS"]["Layers"]
    )
    assert any(f["path"] == "/data/a.txt" for f in document["layers"][0]["files"])
    assert document["config"]["Cmd"] == ["x"]


PYTHON_WORDS = (
    "Traceback",
    "Expecting value",
    "could not be opened successfully",
    "unexpected end of data",
    "string indices",
    "object has no attribute",
    "KeyError",
    "[Errno",
)


def test_broken_archives_get_plain_words_not_python_exception_text(tmp_path):
    import tarfile as tarlib

    def tar_of(name: str, **members: bytes) -> Path:
        path = tmp_path / name
        with tarlib.open(path, "w") as tar:
            for member, data in members.items():
                info = tarlib.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path

    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "index.json").write_text("nope")
    cases = {
        "empty": tmp_path / "empty.tar",
        "noise": tmp_path / "noise.tar",
        "json": tmp_path / "x.json",
        "no config": tar_of("a.tar", **{"manifest.json": b'[{"Layers": []}]'}),
        "bad index": layout,
    }
    cases["empty"].write_bytes(b"")
    cases["noise"].write_bytes(bytes(range(256)) * 7)
    cases["json"].write_text("{}")
    for what, path in cases.items():
        result = subprocess.run(
            [sys.executable, "-m", "pybuild", "inspect", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 1, what
        assert len(result.stderr.splitlines()) == 1 and str(path) in result.stderr, what
        assert not [word for word in PYTHON_WORDS if word in result.stderr], (what, result.stderr)
