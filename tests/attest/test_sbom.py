"""The SBOM of a built image, end to end: every regular file a container sees (and none it does
not), with both digests and the layer and instruction that put it there; packages from a base
image's dpkg database and from a Go binary's build information; SPDX and CycloneDX documents
that the field's own validators accept; the same bytes on a rebuild."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IN_CI
from gobuild import GoBuild
from images import docker_archive
from pybuild import api
from pybuild.attest.options import AttestOptions
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output
from pybuild.reports.inspect import attached_predicate

DPKG_STATUS = b"""Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Description: GNU C Library: Shared libraries

Package: removed-thing
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

"""


def validators():
    """spdx-tools and cyclonedx-python-lib: skipped where absent, except under CI."""
    if IN_CI:
        import cyclonedx  # noqa: F401
        import spdx_tools  # noqa: F401
    else:
        pytest.importorskip("spdx_tools")
        pytest.importorskip("cyclonedx")


def spdx_messages(document: dict, path: Path) -> list[str]:
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    path.write_text(json.dumps(document))
    return [item.validation_message for item in validate_full_spdx_document(parse_file(str(path)))]


def cyclonedx_errors(document: dict) -> object:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document))


def build(context: Path, dest: Path, *, sbom: str = "spdx", **extra) -> Path:
    api.build(
        api.BuildOptions(
            context=context,
            tags=("sbom/test:1",),
            output=parse_output(f"type=oci,dest={dest}"),
            cache_dir=None,
            attest=AttestOptions(sbom=sbom),
            **extra,
        )
    )
    validate_archive(dest)
    return dest


def sha(data: bytes, name: str = "sha256") -> str:
    return hashlib.new(name, data).hexdigest()


@pytest.fixture
def layered(tmp_path: Path) -> Path:
    """A context whose second COPY replaces a file of the first and adds a hard link."""
    context = tmp_path / "ctx"
    (context / "v1").mkdir(parents=True)
    (context / "v2").mkdir()
    (context / "v1" / "app.conf").write_bytes(b"one\n")
    (context / "v1" / "kept").write_bytes(b"kept\n")
    (context / "v2" / "app.conf").write_bytes(b"two\n")
    os.link(context / "v2" / "app.conf", context / "v2" / "same.conf")
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY v1/ /etc/\nCOPY v2/ /etc/\nENV X=1\nCOPY <<EOF /note.txt\nhi\nEOF\n"
    )
    return context


def test_every_file_a_container_sees_with_its_digests_and_layer(layered, tmp_path):
    validators()
    document = attached_predicate(build(layered, tmp_path / "a.tar"), "sbom")
    files = {item["fileName"]: item for item in document["files"]}
    assert sorted(files) == ["./etc/app.conf", "./etc/kept", "./etc/same.conf", "./note.txt"]
    app = files["./etc/app.conf"]
    sums = {item["algorithm"]: item["checksumValue"] for item in app["checksums"]}
    assert sums == {"SHA1": sha(b"two\n", "sha1"), "SHA256": sha(b"two\n")}
    # The second COPY (layer index 1) put it there, and the comment says so with its line.
    assert "COPY v2/ /etc/" in app["comment"] and "Dockerfile:3" in app["comment"]
    assert "COPY v1/ /etc/" in files["./etc/kept"]["comment"]
    assert "COPY <<EOF /note.txt" in files["./note.txt"]["comment"]
    assert spdx_messages(document, tmp_path / "doc.json") == []


def test_a_rebuild_gives_the_same_bytes(layered, tmp_path):
    first = build(layered, tmp_path / "a.tar").read_bytes()
    assert build(layered, tmp_path / "b.tar").read_bytes() == first
    cyclone = build(layered, tmp_path / "c.tar", sbom="cyclonedx").read_bytes()
    assert build(layered, tmp_path / "d.tar", sbom="cyclonedx").read_bytes() == cyclone


def test_files_a_whiteout_deleted_are_not_listed(tmp_path):
    base = tmp_path / "base.tar"
    docker_archive(
        base,
        [
            [("etc/old.conf", b"old"), ("var/lib/dpkg/status", DPKG_STATUS)],
            [("etc/.wh.old.conf", b""), ("bin/tool", b"tool")],
        ],
    )
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM base\n")
    built = build(context, tmp_path / "a.tar", build_contexts=(f"base=docker-archive:{base}",))
    document = attached_predicate(built, "sbom")
    names = {item["fileName"] for item in document["files"]}
    assert names == {"./bin/tool", "./var/lib/dpkg/status"}
    packages = {item["name"]: item for item in document["packages"]}
    assert "removed-thing" not in packages
    libc = packages["libc6"]
    assert libc["versionInfo"] == "2.36-9+deb12u4"
    purls = [ref["referenceLocator"] for ref in libc["externalRefs"]]
    assert purls == ["pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64"]


@pytest.fixture
def go_context(tmp_path: Path, go_build: GoBuild) -> Path:
    context = tmp_path / "go"
    context.mkdir()
    (context / "hello").write_bytes(go_build.plain.read_bytes())
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello /usr/bin/hello\n")
    return context


def test_a_go_binary_s_modules_are_in_both_formats(go_context, tmp_path):
    validators()
    wanted = {("example.com/greet", "v1.2.3"), ("example.com/util", "v0.4.0")}
    spdx = attached_predicate(build(go_context, tmp_path / "s.tar"), "sbom")
    assert wanted <= {(item["name"], item.get("versionInfo")) for item in spdx["packages"]}
    assert "example.com/hello" in {item["name"] for item in spdx["packages"]}
    assert spdx_messages(spdx, tmp_path / "s.json") == []
    cyclone = attached_predicate(build(go_context, tmp_path / "c.tar", sbom="cyclonedx"), "sbom")
    libraries = [item for item in cyclone["components"] if item["type"] == "library"]
    assert wanted <= {(item["name"], item.get("version")) for item in libraries}
    assert "pkg:golang/example.com/greet@v1.2.3" in {item.get("purl") for item in libraries}
    assert cyclonedx_errors(cyclone) is None


def test_pyspdxtools_accepts_the_document(go_context, tmp_path):
    """The command the acceptance check runs, on a document with packages and files."""
    validators()
    document = attached_predicate(build(go_context, tmp_path / "s.tar"), "sbom")
    (tmp_path / "doc.json").write_text(json.dumps(document))
    tool = Path(sys.executable).with_name("pyspdxtools")
    done = subprocess.run(
        [str(tool), "-i", str(tmp_path / "doc.json")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_a_file_name_that_is_not_utf8_is_listed_readably(tmp_path):
    """Linux names are bytes; the SBOM (JSON, UTF-8) shows undecodable ones as U+FFFD."""
    validators()
    context = tmp_path / "ctx"
    context.mkdir()
    (context / os.fsdecode(b"bad\xffname")).write_bytes(b"x")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /c/\n")
    document = attached_predicate(build(context, tmp_path / "a.tar"), "sbom")
    assert "./c/bad\ufffdname" in {item["fileName"] for item in document["files"]}
    assert spdx_messages(document, tmp_path / "doc.json") == []
