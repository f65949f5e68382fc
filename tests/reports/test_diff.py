"""pybuild diff: two real images built by pybuild (and one made by tar by hand, with whiteouts)
compared field by field, file by file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import SAMPLES
from pybuild import api
from pybuild.outputs.spec import parse_output
from pybuild.reports.diff import DiffError, diff_images, read_facts, render_text, union


def build(context: Path, archive: Path, dockerfile: str, **files: str) -> Path:
    context.mkdir(exist_ok=True)
    for name, text in files.items():
        (context / name).write_text(text)
    (context / "Dockerfile").write_text(dockerfile)
    api.build(
        api.BuildOptions(
            context=context, tags=("d:1",), output=parse_output(str(archive)), cache_dir=None
        )
    )
    return archive


@pytest.fixture
def pair(tmp_path):
    dockerfile = "FROM scratch\nLABEL v={v}\nCOPY . /app/\nENV A=1\n"
    first = build(
        tmp_path / "one",
        tmp_path / "a.tar",
        dockerfile.format(v=1),
        same="same\n",
        edited="aaaa\n",
        gone="bye\n",
    )
    second = build(
        tmp_path / "two",
        tmp_path / "b.tar",
        dockerfile.format(v=2),
        same="same\n",
        edited="bbbb\n",  # the same size: only the content digest tells
        new="hello\n",
    )
    return first, second


def test_config_history_and_files_that_differ(pair):
    document = diff_images(read_facts(pair[0]), read_facts(pair[1]))
    assert not document["identical"]
    assert {"path": "config.Labels.v", "before": "1", "after": "2"} in document["config"]
    assert [item["number"] for item in document["history"]] == [1]
    assert "v=1" in document["history"][0]["before"] and "v=2" in document["history"][0]["after"]
    files = document["filesystem"]
    assert files["added"] == ["/app/new"] and files["removed"] == ["/app/gone"]
    assert [item["path"] for item in files["changed"] if item["path"] != "/app/Dockerfile"] == [
        "/app/edited"
    ]
    edited = next(item for item in files["changed"] if item["path"] == "/app/edited")
    assert edited["fields"] == ["content"]  # same size, same (normalised) time
    (layer,) = document["layers"]
    assert layer["number"] == 1 and "/app/new" in layer["added"]
    text = render_text(document)
    assert 'config.Labels.v: "1" -> "2"' in text and "changed  /app/edited (content)" in text


def test_an_image_against_itself_is_identical(pair):
    document = diff_images(read_facts(pair[0]), read_facts(pair[0]))
    assert document["identical"] and not document["layers"] and not document["config"]
    assert "/app" not in render_text(document)


def test_json_from_the_command_line_and_a_clear_error_for_a_missing_image(pair, tmp_path):
    run = [sys.executable, "-m", "pybuild", "diff", "--format", "json"]
    answer = subprocess.run([*run, *map(str, pair)], capture_output=True, text=True)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["filesystem"]["added"] == ["/app/new"]
    missing = subprocess.run([*run, str(pair[0]), str(tmp_path / "no.tar")], capture_output=True)
    assert missing.returncode == 1 and b"no.tar" in missing.stderr
    assert b"Traceback" not in missing.stderr and len(missing.stderr.splitlines()) == 1


def _layer(*members: tuple[str, bytes | None]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_whiteouts_and_opaque_directories_apply_to_the_union(tmp_path):
    from pybuild.reports.diff import _layer_files

    lower = _layer_files(io.BytesIO(_layer(("d", None), ("d/x", b"1"), ("y", b"2"), ("z", b"3"))))
    upper = _layer_files(io.BytesIO(_layer(("d/.wh..wh..opq", b""), ("d/w", b"4"), (".wh.y", b""))))
    from pybuild.reports.diff import LayerFacts

    files = union([LayerFacts(None, None, lower), LayerFacts(None, None, upper)])
    assert sorted(files) == ["/d", "/d/w", "/z"]


def test_a_file_that_is_not_an_image_is_a_diff_error(tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(DiffError):
        read_facts(junk)


def test_an_image_in_a_registry_against_an_archive(open_registry, pair, tmp_path):
    """A reference is pulled (through the layer cache) and compared like an archive."""
    from images import push_sample
    from pybuild.oci.registry import RegistryAccess

    ref = f"{open_registry}/diff/hello:1"
    push_sample(ref, RegistryAccess(), sample="hello")
    archive = tmp_path / "hello.tar"
    api.build(
        api.BuildOptions(
            context=SAMPLES / "hello",
            tags=("h:1",),
            output=parse_output(str(archive)),
            cache_dir=None,
        )
    )
    from pybuild.reports.diff import read_image_facts

    same = diff_images(read_image_facts(ref), read_image_facts(str(archive)))
    assert same["identical"]
    other = diff_images(read_image_facts(ref), read_image_facts(str(pair[1])))
    assert "/hello" in other["filesystem"]["removed"]


def test_a_file_over_a_directory_hides_what_was_below_it():
    from pybuild.reports.diff import LayerFacts, _layer_files

    lower = _layer_files(io.BytesIO(_layer(("d", None), ("d/x", b"1"), ("k", b"1"))))
    # the upper layer puts a file where directory d was, and whites out k
    upper = _layer_files(io.BytesIO(_layer(("d", b"now a file"), (".wh.k", b""))))
    files = union([LayerFacts(None, None, lower), LayerFacts(None, None, upper)])
    assert sorted(files) == ["/d"] and files["/d"].type == "file"
