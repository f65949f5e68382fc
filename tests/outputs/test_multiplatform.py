"""Several platforms from one Dockerfile: an image index (OCI archive, layout, registry), the
shared layer stored once, a child FROM the index taking its platform, and `index create`
joining single-platform pushes. Output types that hold one image say so."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import require_tool
from pybuild import api
from pybuild.errors import UsageError
from pybuild.oci.registry import RegistryAccess
from pybuild.outputs.spec import parse_output

PLATFORMS = "linux/amd64,linux/arm64"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    for arch in ("amd64", "arm64"):
        (context / "dist" / f"linux_{arch}").mkdir(parents=True)
        (context / "dist" / f"linux_{arch}" / "app").write_text(f"{arch} build of app\n")
    (context / "shared.bin").write_bytes(bytes(range(256)) * 1000)
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY shared.bin /shared.bin\nARG TARGETOS\nARG TARGETARCH\n"
        'COPY dist/${TARGETOS}_${TARGETARCH}/app /app\nCMD ["/app"]\n'
    )
    return context


def build(context: Path, output: str, **options) -> api.BuildResult:
    return api.build(
        api.BuildOptions(
            context=context,
            tags=("pb/multi:1",),
            platform=PLATFORMS,
            cache_dir=None,
            output=parse_output(output),
            **options,
        )
    )


def test_an_oci_archive_holds_one_index_of_both_platforms_and_each_blob_once(
    context, tmp_path, open_registry
):
    out = tmp_path / "multi.tar"
    build(context, f"type=oci,dest={out}")
    with tarfile.open(out) as tar:
        names = tar.getnames()
        read = lambda name: tar.extractfile(name).read()  # noqa: E731
        top = json.loads(read("index.json"))
        assert [entry["mediaType"] for entry in top["manifests"]] == [
            "application/vnd.oci.image.index.v1+json"
        ]
        index = json.loads(read("blobs/sha256/" + top["manifests"][0]["digest"][7:]))
        platforms = [entry["platform"]["architecture"] for entry in index["manifests"]]
        layers = [
            layer["digest"]
            for entry in index["manifests"]
            for layer in json.loads(read("blobs/sha256/" + entry["digest"][7:]))["layers"]
        ]
    assert platforms == ["amd64", "arm64"]
    assert len(names) == len(set(names))  # no member twice
    assert len(layers) == 4 and len(set(layers)) == 3  # the shared layer once
    skopeo = require_tool("skopeo")
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", f"oci-archive:{out}"], capture_output=True, text=True
    )
    assert raw.returncode == 0, raw.stderr
    assert len(json.loads(raw.stdout)["manifests"]) == 2
    copied = subprocess.run(
        [
            skopeo,
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            f"oci-archive:{out}",
            f"docker://{open_registry}/pb/copied:1",
        ],
        capture_output=True,
        text=True,
    )
    assert copied.returncode == 0, copied.stderr
    from pybuild.oci.platform import Platform
    from pybuild.oci.validate import validate_archive

    for arch in ("amd64", "arm64"):  # pybuild's own validator, each platform
        contents = validate_archive(out, Platform("linux", arch))
        assert contents.config["architecture"] == arch


def test_the_docker_type_holds_the_index_and_names_this_machines_image(context, tmp_path):
    """docker load of any version reads manifest.json: it names the host's platform's image
    (amd64 here), while the OCI part holds the whole index. A bundle holds one image: it says so."""
    from pybuild.oci.platform import host_platform

    out = tmp_path / "d.tar"
    build(context, f"type=docker,dest={out}")
    with tarfile.open(out) as tar:
        (entry,) = json.loads(tar.extractfile("manifest.json").read())
        config = json.loads(tar.extractfile(entry["Config"]).read())
        top = json.loads(tar.extractfile("index.json").read())
    assert config["architecture"] == host_platform().architecture
    assert entry["RepoTags"] == ["pb/multi:1"]
    assert top["manifests"][0]["mediaType"] == "application/vnd.oci.image.index.v1+json"
    with pytest.raises(UsageError, match="holds one platform's image"):
        build(context, f"type=bundle,dest={tmp_path / 'b'}")
    assert not (tmp_path / "b").exists()


def test_push_a_child_from_the_index_and_index_create(context, tmp_path, open_registry):
    ref = f"{open_registry}/pb/multi:1"
    api.build(
        api.BuildOptions(
            context=context,
            tags=(ref,),
            platform=PLATFORMS,
            cache_dir=None,
            output=parse_output("type=registry"),
        )
    )
    child = tmp_path / "child"
    child.mkdir()
    (child / "Dockerfile").write_text(f"FROM {ref}\n")
    out = tmp_path / "child.tar"
    api.build(
        api.BuildOptions(
            context=child,
            tags=("c:1",),
            platform="linux/arm64",
            cache_dir=None,
            output=parse_output(str(out)),
        )
    )
    with tarfile.open(out) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())[0]
        config = json.loads(tar.extractfile(manifest["Config"]).read())
    assert config["architecture"] == "arm64"
    for arch in ("amd64", "arm64"):
        api.build(
            api.BuildOptions(
                context=context,
                tags=(f"{open_registry}/pb/one:{arch}",),
                platform=f"linux/{arch}",
                cache_dir=None,
                output=parse_output("type=registry"),
            )
        )
    joined = f"{open_registry}/pb/joined:1"
    digest = api.create_index(
        joined,
        (f"{open_registry}/pb/one:amd64", f"{open_registry}/pb/one:arm64"),
        access=RegistryAccess(),
    )
    pushed = api.create_index(joined, (ref,), access=RegistryAccess())
    assert pushed == digest  # the same two manifests, in the same order: the same index


def test_a_layer_the_same_for_every_platform_is_built_once(context, tmp_path):
    from pybuild.events import Reporter

    class Counting(Reporter):
        def __init__(self):
            self.finished: list[bool] = []

        def layer_finished(self, diff_id, digest, stored, *, cached):
            self.finished.append(cached)

    counting = Counting()
    api.build(
        api.BuildOptions(
            context=context,
            tags=("pb/multi:1",),
            platform=PLATFORMS,
            cache_dir=None,
            output=parse_output(f"type=oci,dest={tmp_path / 'm.tar'}"),
        ),
        reporter=counting,
    )
    # amd64: both layers built; arm64: the shared one reused, its own app built
    assert counting.finished == [False, False, True, False]


def test_inspect_shows_the_index_and_any_platforms_image(context, tmp_path):
    from pybuild.oci.platform import Platform
    from pybuild.reports.inspect import read_image, render_text

    out = tmp_path / "d.tar"
    build(context, f"type=docker,dest={out}")
    shown = read_image(out, Platform("linux", "arm64"))
    assert [item["platform"] for item in shown["index"]] == ["linux/amd64", "linux/arm64"]
    assert shown["architecture"] == "arm64"
    assert "index of 2 platforms" in render_text(shown)
    from pybuild.oci.platform import host_platform

    assert read_image(out)["architecture"] == host_platform().architecture  # docker load's


def test_the_docker_type_can_name_another_platforms_image(context, tmp_path):
    out = tmp_path / "arm.tar"
    build(context, f"type=docker,dest={out},platform=linux/arm64")
    with tarfile.open(out) as tar:
        (entry,) = json.loads(tar.extractfile("manifest.json").read())
        assert json.loads(tar.extractfile(entry["Config"]).read())["architecture"] == "arm64"
    with pytest.raises(UsageError, match="not built here .built: linux/amd64, linux/arm64"):
        build(context, f"type=docker,dest={tmp_path / 'x.tar'},platform=linux/s390x")
    with pytest.raises(UsageError, match="type=docker only"):
        parse_output(f"type=oci,dest={tmp_path / 'y.tar'},platform=linux/arm64")


def test_index_create_from_local_archives_and_layouts(context, tmp_path, open_registry):
    """Pipelines that build each platform on its own machine hand over archives: index create
    sends their blobs and manifests and joins them."""
    outputs = {
        "amd64": (
            f"type=oci,dest={tmp_path / 'amd64.tar'}",
            f"oci-archive:{tmp_path / 'amd64.tar'}",
        ),
        "arm64": (f"type=oci-dir,dest={tmp_path / 'arm64'}", f"oci-layout://{tmp_path / 'arm64'}"),
    }
    for arch, (output, _) in outputs.items():
        api.build(
            api.BuildOptions(
                context=context,
                tags=("pb/one:1",),
                platform=f"linux/{arch}",
                cache_dir=None,
                output=parse_output(output),
            )
        )
    joined = f"{open_registry}/pb/local-joined:1"
    api.create_index(
        joined, tuple(source for _, source in outputs.values()), access=RegistryAccess()
    )
    skopeo = require_tool("skopeo")
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{joined}"],
        capture_output=True,
        text=True,
    )
    assert raw.returncode == 0, raw.stderr
    platforms = [entry["platform"]["architecture"] for entry in json.loads(raw.stdout)["manifests"]]
    assert platforms == ["amd64", "arm64"]


def test_explain_says_which_lines_differ_by_platform_and_why(context):
    document, _ = api.explain(api.BuildOptions(context=context, platform=PLATFORMS, cache_dir=None))
    assert document["platforms"] == ["linux/amd64", "linux/arm64"]
    (differs,) = document["by_platform"]
    assert differs["line"] == 5 and differs["differs_on"] == ["linux/arm64"]
    assert differs["reads"] == ["TARGETARCH", "TARGETOS"]
    assert document["config"]["architecture"] == "amd64"  # the first platform is shown
