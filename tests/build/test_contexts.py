"""--build-context NAME=VALUE as buildx reads it: NAME an image reference (matched in its
familiar form) or a stage name (the stage is replaced, never built); VALUE an image layout
chosen by tag or digest, an archive, or a local directory for COPY --from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES
from pybuild import api
from pybuild.build.contexts import context_key, parse_named_context
from pybuild.errors import InstructionError, UsageError
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    """The hello sample as an OCI layout whose image is tagged 1."""
    path = tmp_path_factory.mktemp("layout") / "hello"
    api.build(
        api.BuildOptions(
            context=SAMPLES / "hello",
            tags=("hello:1",),
            output=parse_output(f"type=oci-dir,dest={path}"),
        )
    )
    return path


def build(tmp_path: Path, dockerfile: str, *contexts: str) -> dict:
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    out = tmp_path / "out.tar"
    api.build(
        api.BuildOptions(
            context=context,
            tags=("named:1",),
            output=parse_output(str(out)),
            build_contexts=contexts,
        )
    )
    contents = validate_archive(out)
    return {m.name: m for members in contents.layer_members.values() for m in members}


def test_names_are_matched_in_their_familiar_form():
    assert context_key("docker.io/library/alpine:latest") == context_key("alpine") == "alpine"
    assert context_key("index.docker.io/x/y:2") != context_key("x/z:2")
    assert context_key("gcr.io/distroless/static:nonroot") == "gcr.io/distroless/static:nonroot"
    assert context_key("builder") == "builder"


def test_values_take_buildx_forms(tmp_path):
    assert parse_named_context("a", "docker-image://reg.test/x:1").location == "reg.test/x:1"
    tagged = parse_named_context("a", "oci-layout:///d/layout:v2")
    assert (tagged.location, tagged.tag, tagged.digest) == ("/d/layout", "v2", None)
    pinned = parse_named_context("a", "oci-layout:///d/layout@sha256:" + "a" * 64)
    assert pinned.digest == "sha256:" + "a" * 64 and pinned.tag is None
    assert parse_named_context("a", "docker-archive:/x.tar").kind == "docker-archive"
    assert parse_named_context("a", str(tmp_path)).kind == "directory"
    with pytest.raises(UsageError, match="say a=docker-archive:"):
        (tmp_path / "f.tar").write_bytes(b"")
        parse_named_context("a", str(tmp_path / "f.tar"))
    with pytest.raises(UsageError, match="name the image after docker-image://"):
        parse_named_context("a", "docker-image://")
    with pytest.raises(UsageError, match="git:// is not supported"):
        parse_named_context("a", "git://example.invalid/repo")


def test_image_references_in_from_and_copy_from_use_their_contexts(tmp_path, layout):
    members = build(
        tmp_path,
        "FROM gcr.io/distroless/static:nonroot\n"
        "COPY --from=docker.io/library/busybox:1.36 /hello /hello2\n",
        f"gcr.io/distroless/static:nonroot=oci-layout://{layout}:1",
        f"busybox:1.36=oci-layout://{layout}",
    )
    assert {"hello", "hello2"} <= set(members)


def test_a_directory_context_replaces_a_stage_that_would_need_run(tmp_path):
    prebuilt = tmp_path / "prebuilt"
    (prebuilt / "out").mkdir(parents=True)
    (prebuilt / "out" / "app").write_text("built elsewhere")
    members = build(
        tmp_path,
        "FROM golang:1.23 AS builder\nRUN go build -o /out/app .\n"
        "FROM scratch\nCOPY --from=builder /out/app /app\n",
        f"builder={prebuilt}",
    )
    assert set(members) == {"app"}


def test_a_directory_cannot_be_a_base_and_a_missing_tag_is_named(tmp_path, layout):
    with pytest.raises(InstructionError, match="serves COPY --from, not FROM"):
        build(tmp_path, "FROM base\n", f"base={tmp_path}")
    with pytest.raises(InstructionError, match="holds no image nope"):
        build(tmp_path, "FROM base\n", f"base=oci-layout://{layout}:nope")
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"]
    assert "hello" in build(tmp_path, "FROM base\n", f"base=oci-layout://{layout}@{digest}")
