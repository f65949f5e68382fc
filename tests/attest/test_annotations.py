"""OCI annotations where buildx puts them (`--annotation [PLACE[PLATFORM]:]K=V` and
`-o annotation[-PLACE].K=V`: the image manifest, the index, and the descriptors naming them),
and `--git-labels` (the context's remote, without credentials, and its revision when clean)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import require_tool
from gitrepo import git
from pybuild import api
from pybuild.attest.options import AttestOptions
from pybuild.cli import main as cli
from pybuild.errors import UsageError
from pybuild.oci.model import Annotation
from pybuild.oci.platform import Platform, parse_platform
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_annotation, parse_output

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REFERENCE_TYPE = "vnd.docker.reference.type"
TAG_ANNOTATIONS = {"io.containerd.image.name", "org.opencontainers.image.ref.name"}
SOURCE = "org.opencontainers.image.source"
REVISION = "org.opencontainers.image.revision"


class Layout:
    """An OCI archive (tar) or layout (directory), read without pybuild's reader."""

    def __init__(self, path: Path):
        if path.is_dir():
            self.read = lambda name: (path / name).read_bytes()
        else:
            with tarfile.open(path) as tar:
                files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
            self.read = files.__getitem__
        (self.top,) = json.loads(self.read("index.json"))["manifests"]

    def json(self, digest: str) -> dict[str, Any]:
        return json.loads(self.read("blobs/sha256/" + digest.split(":", 1)[1]))

    @property
    def top_annotations(self) -> dict[str, str]:
        """The annotations of index.json's descriptor, less the tag's."""
        return {
            k: v for k, v in self.top.get("annotations", {}).items() if k not in TAG_ANNOTATIONS
        }

    def images(self) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """Each platform's (descriptor, manifest); of a single image, "" to (top, manifest)."""
        if self.top["mediaType"] == MANIFEST:
            return {"": (self.top, self.json(self.top["digest"]))}
        return {
            "/".join(filter(None, [p["os"], p["architecture"], p.get("variant")])): (
                entry,
                self.json(entry["digest"]),
            )
            for entry in self.json(self.top["digest"])["manifests"]
            if REFERENCE_TYPE not in entry.get("annotations", {})
            for p in [entry["platform"]]
        }


def build(context: Path, output: str, *, platform: str = "linux/amd64", **options: Any):
    result = api.build(
        api.BuildOptions(
            context=context,
            output=parse_output(output),
            cache_dir=None,
            platform=platform,
            source_date_epoch=None,
            **options,
        )
    )
    dest = Path(parse_output(output).dest or "")
    for one in platform.split(","):
        validate_archive(dest, parse_platform(one))
    return result


@pytest.fixture
def context(tmp_path: Path) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("a\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY a.txt /a\n")
    return context


def annotations(item: dict[str, Any]) -> dict[str, str]:
    return item.get("annotations", {})


# --- one platform ----------------------------------------------------------------------------


def test_an_annotation_goes_on_the_image_manifest_by_default(context, tmp_path):
    out = tmp_path / "o.tar"
    build(context, f"type=oci,dest={out}", annotations=("org.example.k=v", "other=a:b=c"))
    layout = Layout(out)
    assert layout.top["mediaType"] == MANIFEST  # still one manifest: no index was needed
    assert layout.top_annotations == {}
    ((descriptor, manifest),) = layout.images().values()
    assert annotations(manifest) == {"org.example.k": "v", "other": "a:b=c"}


def test_an_index_annotation_makes_the_image_an_index(context, tmp_path):
    out = tmp_path / "o.tar"
    build(context, f"type=oci,dest={out}", annotations=("index:org.example.k=v",))
    layout = Layout(out)
    assert layout.top["mediaType"] == INDEX
    assert annotations(layout.json(layout.top["digest"])) == {"org.example.k": "v"}
    ((descriptor, manifest),) = layout.images().values()
    assert annotations(descriptor) == {} and annotations(manifest) == {}
    assert layout.top_annotations == {}


def test_descriptor_annotations_go_on_the_descriptors(context, tmp_path):
    out = tmp_path / "o.tar"
    build(context, f"type=oci,dest={out}", annotations=("manifest-descriptor:md=1",))
    layout = Layout(out)
    assert layout.top["mediaType"] == MANIFEST
    assert layout.top_annotations == {"md": "1"}  # index.json's descriptor of the manifest
    ((descriptor, manifest),) = layout.images().values()
    assert annotations(manifest) == {}

    build(
        context,
        f"type=oci,dest={out}",
        annotations=("index-descriptor:id=2", "manifest-descriptor:md=1"),
    )
    layout = Layout(out)
    assert layout.top["mediaType"] == INDEX
    assert layout.top_annotations == {"id": "2"}  # index.json's descriptor of the index
    assert annotations(layout.json(layout.top["digest"])) == {}
    ((descriptor, manifest),) = layout.images().values()
    assert annotations(descriptor) == {"md": "1"}  # the index's descriptor of the manifest
    assert annotations(manifest) == {}


def test_several_places_at_once_and_the_later_value_wins(context, tmp_path):
    out = tmp_path / "o.tar"
    build(
        context,
        f"type=oci,dest={out},annotation.k=from-o",
        annotations=("index,manifest:both=1", "k=from-flag"),
    )
    layout = Layout(out)
    assert annotations(layout.json(layout.top["digest"])) == {"both": "1"}
    ((descriptor, manifest),) = layout.images().values()
    assert annotations(manifest) == {"both": "1", "k": "from-flag"}


def test_output_annotation_options(context, tmp_path):
    out = tmp_path / "o.tar"
    build(
        context,
        f"type=oci,dest={out},annotation-index.org.example.i=1,annotation.m=2,"
        "annotation-manifest-descriptor.d=3,annotation-index-descriptor.t=4",
    )
    layout = Layout(out)
    assert layout.top_annotations == {"t": "4"}
    assert annotations(layout.json(layout.top["digest"])) == {"org.example.i": "1"}
    ((descriptor, manifest),) = layout.images().values()
    assert annotations(descriptor) == {"d": "3"}
    assert annotations(manifest) == {"m": "2"}


def test_annotations_in_a_docker_archive(context, tmp_path):
    out = tmp_path / "d.tar"
    build(context, f"type=docker,dest={out}", annotations=("k=v", "index:i=1"))
    layout = Layout(out)
    assert annotations(layout.json(layout.top["digest"])) == {"i": "1"}
    ((descriptor, manifest),) = layout.images().values()
    assert annotations(manifest) == {"k": "v"}


def test_annotations_stay_off_the_attestation_manifests(context, tmp_path):
    out = tmp_path / "o.tar"
    build(
        context,
        f"type=oci,dest={out}",
        annotations=("k=v", "manifest-descriptor:md=1"),
        attest=AttestOptions(provenance="min"),
    )
    layout = Layout(out)
    entries = layout.json(layout.top["digest"])["manifests"]
    (attestation,) = [entry for entry in entries if REFERENCE_TYPE in annotations(entry)]
    assert "md" not in annotations(attestation)
    assert "k" not in annotations(layout.json(attestation["digest"]))
    ((descriptor, manifest),) = layout.images().values()
    assert annotations(descriptor) == {"md": "1"} and annotations(manifest) == {"k": "v"}


# --- two platforms ---------------------------------------------------------------------------


def test_a_platform_annotation_goes_only_on_that_platforms_manifest(context, tmp_path):
    out = tmp_path / "o.tar"
    build(
        context,
        f"type=oci,dest={out},annotation-manifest[linux/amd64].o=amd",
        platform="linux/amd64,linux/arm64",
        annotations=(
            "all=1",
            "manifest[linux/arm64]:arch=arm",
            "manifest-descriptor[linux/arm64]:d=arm",
            "index:i=1",
        ),
    )
    layout = Layout(out)
    assert annotations(layout.json(layout.top["digest"])) == {"i": "1"}
    images = layout.images()
    assert set(images) == {"linux/amd64", "linux/arm64"}
    amd_descriptor, amd = images["linux/amd64"]
    arm_descriptor, arm = images["linux/arm64"]
    assert annotations(amd) == {"all": "1", "o": "amd"}
    assert annotations(arm) == {"all": "1", "arch": "arm"}
    assert annotations(amd_descriptor) == {}
    assert annotations(arm_descriptor) == {"d": "arm"}


def test_a_platform_annotation_is_not_given_to_an_older_arm_variant(context, tmp_path):
    out = tmp_path / "o.tar"
    build(
        context,
        f"type=oci,dest={out}",
        platform="linux/arm/v6,linux/arm/v7",
        annotations=("manifest[linux/arm/v7]:seven=1",),
    )
    images = {name: annotations(manifest) for name, (_, manifest) in Layout(out).images().items()}
    assert images == {"linux/arm/v6": {}, "linux/arm/v7": {"seven": "1"}}


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("k=v", [Annotation("manifest", "k", "v")]),
        ("k=", [Annotation("manifest", "k", "")]),
        ("k=a:b=c", [Annotation("manifest", "k", "a:b=c")]),
        ("index:k=v", [Annotation("index", "k", "v")]),
        ("index,manifest:k=v", [Annotation("index", "k", "v"), Annotation("manifest", "k", "v")]),
        ("index-descriptor:k=v", [Annotation("index-descriptor", "k", "v")]),
        (
            "manifest[linux/arm64]:k=v",
            [Annotation("manifest", "k", "v", Platform("linux", "arm64"))],
        ),
        (
            "manifest-descriptor[linux/arm/v7]:k=v",
            [Annotation("manifest-descriptor", "k", "v", Platform("linux", "arm", "v7"))],
        ),
    ],
)
def test_parse_annotation(text, expected):
    assert list(parse_annotation(text)) == expected


@pytest.mark.parametrize(
    "text, key, places",
    [
        ("com.example:key=v", "com.example:key", ["manifest"]),
        ("manifest:org.foo:bar=v", "org.foo:bar", ["manifest"]),
        ("index,bogus:k=v", "index,bogus:k", ["manifest"]),
        ("Index:k=v", "Index:k", ["manifest"]),
    ],
)
def test_a_prefix_that_names_no_places_is_part_of_the_key(text, key, places):
    """As buildx reads them: only a prefix made of places is one; keys may hold colons."""
    found = parse_annotation(text)
    assert [item.key for item in found] == [key] and [item.place for item in found] == places


@pytest.mark.parametrize(
    "text, said",
    [
        ("nokey", "KEY=VALUE"),
        ("=v", "KEY=VALUE"),
        ("index:=v", "KEY=VALUE"),
        ("a b=v", "without spaces"),
        ("manifest:a b=v", "without spaces"),
        ("index[linux/arm64]:k=v", "platform"),
        ("index-descriptor[linux/arm64]:k=v", "platform"),
        ("manifest[nonsense]:k=v", "nonsense"),
    ],
)
def test_bad_annotations_are_usage_errors(text, said):
    with pytest.raises(UsageError) as raised:
        parse_annotation(text)
    assert said in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--annotation", "nokey"], "'nokey'"),
        (["--annotation", "some where=v"], "without spaces"),
        (["--annotation", "index[linux/arm64]:k=v"], "platform"),
        (["-o", "type=oci,dest={dest},annotation-index=v"], "annotation"),
    ],
)
def test_bad_annotations_on_the_command_line_write_nothing(context, tmp_path, flags, said):
    dest = tmp_path / "o.tar"
    args = [flag.format(dest=dest) for flag in flags]
    if "-o" not in args:
        args += ["-o", f"type=oci,dest={dest}"]
    result = CliRunner().invoke(cli, [*args, str(context)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], lines
    assert not dest.exists()


# --- --git-labels ----------------------------------------------------------------------------


@pytest.fixture
def checkout(context: Path) -> Path:
    (context / "sub").mkdir()
    (context / "sub" / "Dockerfile").write_text("FROM scratch\n")
    git(context, "init", "-q")
    git(context, "add", ".")
    git(context, "commit", "-q", "-m", "first")
    git(context, "remote", "add", "origin", "https://user:secret@example.invalid/x.git")
    return context


def labels(out: Path) -> dict[str, str]:
    ((descriptor, manifest),) = Layout(out).images().values()
    return Layout(out).json(manifest["config"]["digest"])["config"].get("Labels", {})


def test_git_labels_of_a_clean_checkout(checkout, tmp_path):
    out = tmp_path / "o.tar"
    build(checkout, f"type=oci,dest={out}", attest=AttestOptions(git_labels=True))
    assert labels(out) == {
        SOURCE: "https://example.invalid/x.git",
        REVISION: git(checkout, "rev-parse", "HEAD"),
    }
    build(
        checkout,
        f"type=oci,dest={out}",
        attest=AttestOptions(git_labels=True),
        labels=(f"{SOURCE}=https://example.com/mine",),
    )
    assert labels(out)[SOURCE] == "https://example.com/mine"  # --label wins


def test_git_labels_of_a_dirty_checkout_have_no_revision(checkout, tmp_path):
    (checkout / "a.txt").write_text("changed\n")
    out = tmp_path / "o.tar"
    result = CliRunner().invoke(cli, ["--git-labels", "-o", f"type=oci,dest={out}", str(checkout)])
    assert result.exit_code == 0, result.output
    validate_archive(out)
    assert labels(out) == {SOURCE: "https://example.invalid/x.git"}


def test_git_labels_of_a_checkout_without_a_remote_have_only_the_revision(checkout, tmp_path):
    git(checkout, "remote", "remove", "origin")
    out = tmp_path / "o.tar"
    build(checkout, f"type=oci,dest={out}", attest=AttestOptions(git_labels=True))
    assert labels(out) == {REVISION: git(checkout, "rev-parse", "HEAD")}


@pytest.mark.parametrize("where", ["plain", "subdirectory", "no commit"])
def test_git_labels_need_the_top_of_a_checkout_with_a_commit(checkout, tmp_path, where):
    if where == "plain":
        shutil.rmtree(checkout / ".git")
    elif where == "no commit":
        shutil.rmtree(checkout / ".git")
        git(checkout, "init", "-q")
    context = checkout / "sub" if where == "subdirectory" else checkout
    out = tmp_path / "o.tar"
    with pytest.raises(UsageError, match="--git-labels: the build context .* is not the top of"):
        build(context, f"type=oci,dest={out}", attest=AttestOptions(git_labels=True))
    assert not out.exists()


def test_git_labels_of_what_is_not_a_checkout_fail_in_one_line(checkout, tmp_path):
    out = tmp_path / "o.tar"
    result = subprocess.run(
        [sys.executable, "-m", "pybuild", "--git-labels", "-o", str(out), str(checkout / "sub")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --git-labels"), result.stderr
    assert "git checkout" in lines[0] and "Traceback" not in result.stderr
    assert not out.exists()


# --- what the OCI tools say ------------------------------------------------------------------


def test_oci_image_tool_validates_an_annotated_layout(context, tmp_path):
    image_tool = require_tool("oci-image-tool")
    layout = tmp_path / "layout"
    build(
        context,
        f"type=oci-dir,dest={layout}",
        tags=("pb/annotated:1",),
        annotations=("org.opencontainers.image.title=annotated", "manifest-descriptor:d=1"),
    )
    ((descriptor, manifest),) = Layout(layout).images().values()
    assert annotations(manifest) == {"org.opencontainers.image.title": "annotated"}
    assert annotations(descriptor)["d"] == "1"
    checked = subprocess.run(
        [image_tool, "validate", "--type", "image", "--ref", "name=1", str(layout)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
