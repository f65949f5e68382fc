"""--cache-to / --cache-from against a real registry (Debian's docker-registry on 127.0.0.1) and
a directory: two cache directories stand for two machines sharing one registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import require_tool
from pybuild import api
from pybuild.errors import UsageError
from pybuild.events import Reporter
from pybuild.oci.compression import Compression
from pybuild.oci.layercache import KEY, content_key, parse_cache
from pybuild.outputs.spec import parse_output


class Notes(Reporter):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


@pytest.fixture
def context(tmp_path) -> Path:
    folder = tmp_path / "ctx"
    (folder / "data").mkdir(parents=True)
    for number in range(4):
        (folder / "data" / f"f{number}").write_bytes(os.urandom(300_000))
    (folder / "Dockerfile").write_text('FROM scratch\nCOPY data/ /data/\nCMD ["/none"]\n')
    return folder


def build(context: Path, machine: Path, output: str, *, notes: Notes | None = None, **caches):
    return api.build(
        api.BuildOptions(
            context=context,
            tags=caches.pop("tags", ("pb/app:1",)),
            cache_dir=machine,
            output=parse_output(output),
            **caches,
        ),
        reporter=notes or Notes(),
    )


def manifest_of(registry: str, repository: str, tag: str) -> dict:
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_a_second_machine_mounts_the_cached_layers_and_uploads_none(
    open_registry, context, tmp_path, registry_requests
):
    cache = f"type=registry,ref={open_registry}/lc/cache:1"
    first = build(
        context,
        tmp_path / "m1",
        "type=registry",
        tags=(f"{open_registry}/lc/app1:1",),
        cache_to=(cache,),
    )
    stored = manifest_of(open_registry, "lc/cache", "1")
    (layer,) = stored["layers"]
    assert stored["artifactType"] == "application/vnd.pybuild.layer-cache.v1"
    assert layer["annotations"][KEY] == content_key(
        first.written.layers[0].diff_id, Compression("gzip")
    )
    registry_requests.clear()
    notes = Notes()
    second = build(
        context,
        tmp_path / "m2",  # a fresh cache directory: another machine
        "type=registry",
        tags=(f"{open_registry}/lc/app2:1",),
        cache_from=(cache,),
        notes=notes,
    )
    assert second.written.manifest_digest == first.written.manifest_digest
    assert f"{layer['digest']}: mounted from the layer cache in lc/cache" in notes.notes
    uploads = [r for r in registry_requests if r.startswith(("PATCH", "PUT")) and "/blobs/" in r]
    assert len(uploads) == 1  # the config alone; the layer's bytes were never sent


def test_a_local_output_downloads_the_cached_blob_instead_of_compressing(
    open_registry, context, tmp_path
):
    cache = f"type=registry,ref={open_registry}/lc/dl:1"
    first = build(
        context, tmp_path / "m1", f"type=oci,dest={tmp_path / 'a.tar'}", cache_to=(cache,)
    )
    notes = Notes()
    second = build(
        context,
        tmp_path / "m2",
        f"type=oci,dest={tmp_path / 'b.tar'}",
        cache_from=(cache,),
        notes=notes,
    )
    assert "--cache-from: 1 layers taken from the cache" in notes.notes
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    assert second.written.layers == first.written.layers


def test_a_deleted_blob_or_a_missing_cache_is_a_warning_and_the_same_image(
    open_registry, context, tmp_path
):
    cache = f"type=registry,ref={open_registry}/lc/gone:1"
    build(context, tmp_path / "m1", f"type=oci,dest={tmp_path / 'a.tar'}", cache_to=(cache,))
    (layer,) = manifest_of(open_registry, "lc/gone", "1")["layers"]
    deleted = urllib.request.Request(
        f"http://{open_registry}/v2/lc/gone/blobs/{layer['digest']}", method="DELETE"
    )
    with urllib.request.urlopen(deleted, timeout=10) as answer:
        assert answer.status == 202
    notes = Notes()
    build(
        context,
        tmp_path / "m2",
        f"type=oci,dest={tmp_path / 'b.tar'}",
        cache_from=(cache,),
        notes=notes,
    )
    assert any(n.startswith("warning:") and "does not hold it" in n for n in notes.notes)
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    missing = Notes()
    build(
        context,
        tmp_path / "m3",
        f"type=oci,dest={tmp_path / 'c.tar'}",
        cache_from=(f"type=registry,ref={open_registry}/lc/never:1",),
        notes=missing,
    )
    assert any("no cache there yet" in n for n in missing.notes)


def test_another_compression_level_is_another_key(open_registry, context, tmp_path):
    cache = f"type=registry,ref={open_registry}/lc/level:1"
    build(context, tmp_path / "m1", f"type=oci,dest={tmp_path / 'a.tar'}", cache_to=(cache,))
    notes = Notes()
    build(
        context,
        tmp_path / "m2",
        f"type=oci,dest={tmp_path / 'b.tar'},compression-level=9",
        cache_from=(cache,),
        notes=notes,
    )
    assert "--cache-from: 0 layers taken from the cache" in notes.notes


def test_a_directory_cache_round_trips(context, tmp_path):
    directory = tmp_path / "cache"
    first = build(
        context,
        tmp_path / "m1",
        f"type=oci,dest={tmp_path / 'a.tar'}",
        cache_to=(f"type=local,dest={directory}",),
    )
    assert (directory / "index.json").is_file() and (directory / "oci-layout").is_file()
    notes = Notes()
    second = build(
        context,
        tmp_path / "m2",
        f"type=oci,dest={tmp_path / 'b.tar'}",
        cache_from=(f"type=local,src={directory}",),
        notes=notes,
    )
    assert "--cache-from: 1 layers taken from the cache" in notes.notes
    assert second.written.manifest_digest == first.written.manifest_digest
    raw = subprocess.run(  # containers/image reads the directory as an OCI layout
        [require_tool("skopeo"), "inspect", "--raw", f"oci:{directory}"],
        capture_output=True,
        text=True,
    )
    assert raw.returncode == 0, raw.stderr
    assert json.loads(raw.stdout)["artifactType"] == "application/vnd.pybuild.layer-cache.v1"


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("type=registry", "--cache-from"),
        ("type=local,dest=x", "--cache-from"),
        ("type=local,src=x", "--cache-to"),
        ("type=s3,bucket=x", "--cache-to"),
        ("type=registry,ref=r/x:1,colour=blue", "--cache-to"),
    ],
)
def test_a_misspelt_cache_is_a_usage_error(text, flag):
    with pytest.raises(UsageError, match=flag):
        parse_cache(text, flag)


def test_the_command_line_refuses_a_misspelt_cache_before_building(context, tmp_path):
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuild",
            "--cache-from",
            "type=s3",
            "-o",
            str(tmp_path / "x.tar"),
            str(context),
        ],
        capture_output=True,
        text=True,
    )
    assert answer.returncode == 1 and len(answer.stderr.splitlines()) == 1
    assert "--cache-from type=s3" in answer.stderr and not (tmp_path / "x.tar").exists()


def test_every_platforms_layers_go_to_the_cache(context, tmp_path):
    """--cache-to of a multi-platform build keeps each platform's layers (a layer built per
    architecture is two entries), uncompressed ones included."""
    (context / "amd64").write_text("a\n")
    (context / "arm64").write_text("b\n")
    (context / "Dockerfile").write_text("FROM scratch\nARG TARGETARCH\nCOPY $TARGETARCH /arch\n")
    directory = tmp_path / "cache"
    build(
        context,
        tmp_path / "m1",
        f"type=oci,dest={tmp_path / 'x.tar'},compression=uncompressed",
        cache_to=(f"type=local,dest={directory}",),
        platform="linux/amd64,linux/arm64",
    )
    index = json.loads((directory / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((directory / "blobs" / "sha256" / digest).read_bytes())
    assert len(manifest["layers"]) == 2


def test_a_directory_cache_that_is_not_one_is_a_warning(context, tmp_path):
    directory = tmp_path / "cache"
    directory.mkdir()
    (directory / "index.json").write_text('{"manifests": []}')
    notes = Notes()
    build(
        context,
        tmp_path / "m",
        f"type=oci,dest={tmp_path / 'x.tar'}",
        cache_from=(f"type=local,src={directory}",),
        notes=notes,
    )
    assert any(n.startswith("warning: --cache-from") for n in notes.notes)
