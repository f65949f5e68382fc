"""A real Docker Engine and images with attestation manifests: pulled from a registry by tag
(the index's unknown/unknown entry is never chosen) and loaded from a docker-type archive,
both run; the archive's OCI part still leads to the attestations."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import IN_CI, require_tool
from pybuild.cli import main as cli
from pybuild.oci.attestation import (
    ATTESTATION_ARTIFACT,
    ATTESTATION_MANIFEST,
    REFERENCE_DIGEST,
    REFERENCE_TYPE,
)
from pybuild.oci.layout import blob_path
from pybuild.oci.model import MEDIA_OCI_INDEX

ECHO = r"""#include <stdio.h>
int main(int c, char **v) {
    for (int i = 1; i < c; i++) printf(i < c - 1 ? "%s " : "%s\n", v[i]);
    return 0;
}
"""


@pytest.fixture(scope="module")
def echo_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A context with a static `echo` of its own (gcc -static) and a Dockerfile that runs it
    with `attested` unless given other arguments."""
    gcc = require_tool("gcc")
    context = tmp_path_factory.mktemp("attested")
    (context / "echo.c").write_text(ECHO)
    made = subprocess.run(
        [gcc, "-static", "-O2", "-o", str(context / "echo"), str(context / "echo.c")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        message = f"gcc -static failed (libc6-dev installed?): {made.stderr[-300:]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY echo /bin/echo\nENTRYPOINT ["/bin/echo"]\nCMD ["attested"]\n'
    )
    (context / ".dockerignore").write_text("echo.c\n")
    return context


def pybuild(*args: str) -> str:
    """The CLI in this process; its stderr."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stderr


@pytest.mark.engine
def test_docker_pulls_and_runs_an_image_pushed_with_attestations(
    engine, open_registry, echo_context
):
    """The tag names an index with an attestation manifest (unknown/unknown); Docker pulls
    this machine's image from it (never the attestation), records the index digest the push
    printed, and runs it."""
    ref = f"{open_registry}/attest/echo:1"
    stderr = pybuild("--sbom", "--provenance", "--push", "-t", ref, str(echo_context))
    digest = [line for line in stderr.splitlines() if line.startswith("pushed ")][-1]
    digest = digest.rsplit("@", 1)[1]
    engine.images.add(ref)  # removed at the session's end should an assertion stop this test
    try:
        engine.docker("pull", ref)
        assert f"{open_registry}/attest/echo@{digest}" in engine.inspect(ref)["RepoDigests"]
        run = engine.run(ref)
        assert (run.returncode, run.stdout, run.stderr) == (0, b"attested\n", b"")
        assert engine.run(ref, "given", "words").stdout == b"given words\n"
    finally:
        engine.docker("rmi", "-f", ref, check=False)
        engine.images.discard(ref)


@pytest.mark.engine
def test_docker_loads_a_docker_archive_whose_oci_part_keeps_the_attestations(
    engine, echo_context, tmp_path
):
    """`-o type=docker` with `--sbom`: `docker load` takes the image from manifest.json and
    runs it, while index.json leads through the index to the SPDX attestation manifest
    about that same image."""
    out = tmp_path / "attested.tar"
    tag = "pybuild-test/attested:docker"
    pybuild("--sbom", "-o", f"type=docker,dest={out}", "-t", tag, str(echo_context))

    with tarfile.open(out) as tar:

        def read(name: str) -> dict:
            member = tar.extractfile(name)
            assert member is not None, name
            return json.loads(member.read())

        (loaded,) = read("manifest.json")
        (top,) = read("index.json")["manifests"]
        assert top["mediaType"] == MEDIA_OCI_INDEX
        image, attestation = read(blob_path(top["digest"]))["manifests"]
        assert loaded["Config"] == blob_path(read(blob_path(image["digest"]))["config"]["digest"])
        assert attestation["annotations"] == {
            REFERENCE_TYPE: ATTESTATION_MANIFEST,
            REFERENCE_DIGEST: image["digest"],
        }
        attached = read(blob_path(attestation["digest"]))
        assert attached["artifactType"] == ATTESTATION_ARTIFACT
        assert attached["subject"]["digest"] == image["digest"]
        (layer,) = attached["layers"]
        statement = read(blob_path(layer["digest"]))
        assert statement["predicateType"] == "https://spdx.dev/Document"
        assert "./bin/echo" in {item["fileName"] for item in statement["predicate"]["files"]}

    engine.images.add(tag)
    try:
        assert f"Loaded image: {tag}" in engine.load(out)
        run = engine.run(tag)
        assert (run.returncode, run.stdout) == (0, b"attested\n"), run.stderr
    finally:
        engine.docker("rmi", "-f", tag, check=False)
        engine.images.discard(tag)
