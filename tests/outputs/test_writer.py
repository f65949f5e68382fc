"""The written archive: valid by reopening it, reproducible, and equal to the golden files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import SAMPLES
from pybuild import api
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output

GOLDEN = Path(__file__).parent / "golden" / "samples"


def build_sample(name: str, out: Path, **extra) -> api.BuildResult:
    options = api.BuildOptions(
        context=SAMPLES / name,
        tags=(f"{name}:golden",),
        output=parse_output(str(out)),
        platform="linux/amd64",
        source_date_epoch=None,
        **extra,
    )
    return api.build(options)


def summary(archive: Path) -> dict:
    """What a golden file records: the documents and each layer's member list."""
    contents = validate_archive(archive)
    layers = [
        [
            f"{m.type.decode() or '0'} {oct(m.mode)} {m.uid}:{m.gid} {m.size} {m.name}"
            + (f" -> {m.linkname}" if m.linkname else "")
            for m in members
        ]
        for members in contents.layer_members.values()
    ]
    return {
        "manifest.json": contents.manifest,
        "index.json": contents.index,
        "oci-manifest": contents.oci_manifest,
        "config": contents.config,
        "layers": layers,
    }


@pytest.mark.parametrize("name", ["hello", "greet"])
def test_sample_matches_golden(tmp_path, name, update_golden):
    archive = tmp_path / "image.tar"
    result = build_sample(name, archive)
    got = summary(archive)
    assert got["config"]["rootfs"]["diff_ids"] == [layer.digest for layer in result.written.layers]
    golden = GOLDEN / f"{name}.json"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(golden.read_text())


def test_zero_layer_image_is_valid(tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text('FROM scratch\nENV A=1\nCMD ["x"]\n')
    archive = tmp_path / "out.tar"
    api.build(
        api.BuildOptions(
            context=tmp_path / "ctx", tags=("meta:1",), output=parse_output(str(archive))
        )
    )
    contents = validate_archive(archive)
    assert contents.manifest[0]["Layers"] == []
    assert contents.config["rootfs"] == {"type": "layers", "diff_ids": []}


def test_identical_layers_are_stored_once(tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a").write_text("a")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY a /a\nCOPY a /a\n")
    archive = tmp_path / "out.tar"
    api.build(api.BuildOptions(context=context, tags=("dup:1",), output=parse_output(str(archive))))
    contents = validate_archive(archive)
    assert len(contents.config["rootfs"]["diff_ids"]) == 2
    assert len(set(contents.manifest[0]["Layers"])) == 1


def test_same_input_from_another_path_with_other_mtimes_gives_identical_bytes(tmp_path):
    first = tmp_path / "one" / "greet"
    second = tmp_path / "two" / "deeper" / "greet"
    shutil.copytree(SAMPLES / "greet", first)
    shutil.copytree(SAMPLES / "greet", second)
    for path in second.rglob("*"):
        os.utime(path, (1_234_567_890, 1_234_567_890))
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    for context, out in ((first, a), (second, b)):
        api.build(
            api.BuildOptions(
                context=context,
                tags=("r:1",),
                output=parse_output(str(out)),
                platform="linux/amd64",
                source_date_epoch=None,
            )
        )
    assert a.read_bytes() == b.read_bytes()


def test_timestamp_option(tmp_path):
    from pybuild.build.timestamps import Timestamps

    assert Timestamps.from_environment(None).created == "1970-01-01T00:00:00Z"
    assert Timestamps.from_environment("1700000000").created == "2023-11-14T22:13:20Z"
    assert Timestamps.from_environment("5", "1700000000").epoch == 1_700_000_000
    now = Timestamps.from_environment("5", "now")
    assert now.keep_file_times and now.epoch > 1_700_000_000
    with pytest.raises(Exception, match="--timestamp must be whole seconds"):
        Timestamps.from_environment(None, "yesterday")


def test_source_date_epoch_gives_reproducible_times_in_the_archive(tmp_path):
    out = tmp_path / "out.tar"
    api.build(
        api.BuildOptions(
            context=SAMPLES / "hello",
            tags=("h:1",),
            output=parse_output(str(out)),
            source_date_epoch="1700000000",
        )
    )
    config = validate_archive(out).config
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert {item["created"] for item in config["history"]} == {"2023-11-14T22:13:20Z"}
