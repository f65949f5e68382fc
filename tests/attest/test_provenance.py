"""SLSA v1 provenance of real builds, read back from the written archive (and through
`pybuild inspect --provenance`): what it names (the Dockerfile by digest, platform, target, build
args and layers in max mode only, base images, downloads, the context, the git checkout), the
times it gives, that it runs nothing of a checkout's, and that equal inputs give equal bytes."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import tarfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gitrepo import git
from images import synthetic_archive
from pybuild import api
from pybuild.attest.options import AttestOptions
from pybuild.attest.vcs import without_credentials
from pybuild.cli import main as cli
from pybuild.errors import UsageError
from pybuild.oci.platform import parse_platform
from pybuild.oci.validate import validate_archive
from pybuild.outputs.spec import parse_output

SLSA = "https://slsa.dev/provenance/v1"
SPDX = "https://spdx.dev/Document"
CYCLONEDX = "https://cyclonedx.org/bom"
INDEX = "application/vnd.oci.image.index.v1+json"
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
EPOCH = "1970-01-01T00:00:00Z"


# --- reading what was written ----------------------------------------------------------------


class Archive:
    """An OCI archive (tar) or layout (directory), read without pybuild's reader."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            self.files = {
                str(item.relative_to(path)): item.read_bytes()
                for item in path.rglob("*")
                if item.is_file()
            }
        else:
            with tarfile.open(path) as tar:
                self.files = {
                    member.name: tar.extractfile(member).read()
                    for member in tar.getmembers()
                    if member.isfile()
                }
        self.top = json.loads(self.files["index.json"])

    def blob(self, digest: str) -> bytes:
        return self.files["blobs/sha256/" + digest.split(":", 1)[1]]

    def json(self, digest: str) -> Any:
        return json.loads(self.blob(digest))

    @property
    def index(self) -> dict[str, Any]:
        (entry,) = {item["digest"]: item for item in self.top["manifests"]}.values()
        assert entry["mediaType"] == INDEX, "no image index: nothing attached"
        return self.json(entry["digest"])

    def images(self) -> list[dict[str, Any]]:
        return [
            item
            for item in self.index["manifests"]
            if REFERENCE_TYPE not in item.get("annotations", {})
        ]

    def attestation_entries(self) -> list[dict[str, Any]]:
        return [
            item
            for item in self.index["manifests"]
            if REFERENCE_TYPE in item.get("annotations", {})
        ]

    def statements(self, image_digest: str) -> dict[str, dict[str, Any]]:
        """The statements about one image manifest, by predicate type."""
        found: dict[str, dict[str, Any]] = {}
        for entry in self.attestation_entries():
            if entry["annotations"][REFERENCE_DIGEST] == image_digest:
                for layer in self.json(entry["digest"])["layers"]:
                    statement = self.json(layer["digest"])
                    found[statement["predicateType"]] = statement
        return found

    def provenance(self) -> dict[str, Any]:
        """The provenance predicate of the one image."""
        (image,) = self.images()
        return self.statements(image["digest"])[SLSA]["predicate"]

    def everything(self) -> bytes:
        return b"\n".join(self.files.values())


def dependency(predicate: dict[str, Any], **match: str) -> dict[str, Any]:
    found = [
        item
        for item in predicate["buildDefinition"]["resolvedDependencies"]
        if all(item.get(key) == value for key, value in match.items())
    ]
    assert len(found) == 1, predicate["buildDefinition"]["resolvedDependencies"]
    return found[0]


def source(predicate: dict[str, Any]) -> dict[str, Any]:
    return predicate["buildDefinition"]["externalParameters"]["configSource"]


def request_args(predicate: dict[str, Any]) -> dict[str, str]:
    return predicate["buildDefinition"]["externalParameters"]["request"]["args"]


def build(
    context: Path,
    out: Path,
    *,
    sbom: str | None = None,
    provenance: str | None = "min",
    platform: str = "linux/amd64",
    **options: Any,
) -> api.BuildResult:
    options.setdefault("source_date_epoch", None)  # not the environment's
    result = api.build(
        api.BuildOptions(
            context=context,
            output=parse_output(f"type=oci,dest={out}"),
            cache_dir=None,
            platform=platform,
            attest=AttestOptions(sbom, provenance),
            **options,
        )
    )
    for one in platform.split(","):
        validate_archive(out, parse_platform(one))
    return result


def in_process(*args: str) -> str:
    """The command line in this process; its stdout."""
    result = CliRunner().invoke(cli, list(args), env={"SOURCE_DATE_EPOCH": None})
    assert result.exit_code == 0, result.output
    return result.stdout


def write(context: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
    return context


STAGES = (
    # CRLF and a non-ASCII comment: the digest is of the file's bytes, as they are.
    "# syntax-free Dockerfile, ünïcode\r\n"
    "FROM scratch AS first\r\nARG V\r\nCOPY a.txt /a\r\n"
    "FROM first AS final\r\nARG HIDDEN\r\nCOPY b.txt /b\r\n"
    "FROM scratch AS other\r\nCOPY a.txt /other\r\n"
)


@pytest.fixture
def stages(tmp_path: Path) -> Path:
    return write(tmp_path / "ctx", {"Dockerfile": STAGES, "a.txt": "a\n", "b.txt": "b\n"})


# --- what min and max name -------------------------------------------------------------------


def test_min_names_the_dockerfile_platform_and_target_and_no_build_args(stages, tmp_path):
    out = tmp_path / "o.tar"
    in_process(
        "--provenance",
        "--platform",
        "linux/arm64",
        "--target",
        "final",
        "--build-arg",
        "V=visible-value",
        "--build-arg",
        "HIDDEN=hidden-value",
        "-o",
        f"type=oci,dest={out}",
        str(stages),
    )
    validate_archive(out, parse_platform("linux/arm64"))
    printed = in_process("inspect", "--provenance", str(out))
    predicate = json.loads(printed)
    assert predicate == Archive(out).provenance()
    assert source(predicate) == {
        "path": "Dockerfile",
        "digest": {"sha256": hashlib.sha256((stages / "Dockerfile").read_bytes()).hexdigest()},
    }
    assert request_args(predicate) == {"platform": "linux/arm64", "target": "final"}
    assert predicate["buildDefinition"]["internalParameters"] == {"mode": "min"}
    assert predicate["buildDefinition"]["externalParameters"]["request"]["frontend"] == "dockerfile"
    assert predicate["runDetails"]["builder"]["version"]["pybuild"]
    assert "hidden-value" not in printed and "visible-value" not in printed
    assert b"hidden-value" not in Archive(out).everything()


def test_max_adds_the_build_args_and_each_layer(stages, tmp_path):
    out = tmp_path / "o.tar"
    result = build(
        stages,
        out,
        provenance="max",
        target="final",
        build_args=("V=visible-value", "HIDDEN=hidden-value"),
    )
    predicate = Archive(out).provenance()
    assert request_args(predicate) == {
        "platform": "linux/amd64",
        "target": "final",
        "build-arg:HIDDEN": "hidden-value",
        "build-arg:V": "visible-value",
    }
    internal = predicate["buildDefinition"]["internalParameters"]
    config = json.loads(result.written.config)
    assert internal["mode"] == "max"
    assert internal["layers"] == [
        {"diffID": diff_id, "createdBy": made_by}
        for diff_id, made_by in zip(
            config["rootfs"]["diff_ids"], ["COPY a.txt /a", "COPY b.txt /b"], strict=True
        )
    ]


def test_without_a_target_there_is_no_target(stages, tmp_path):
    out = tmp_path / "o.tar"
    build(stages, out)
    assert request_args(Archive(out).provenance()) == {"platform": "linux/amd64"}


@pytest.mark.parametrize(
    "where, shown",
    [("ctx/build/Dockerfile.prod", "build/Dockerfile.prod"), ("elsewhere/Prod", "Prod")],
)
def test_the_dockerfile_is_named_relative_to_the_context_or_by_its_name(
    stages, tmp_path, where, shown
):
    dockerfile = write(tmp_path, {where: "FROM scratch\nCOPY a.txt /x\n"}) / where
    out = tmp_path / "o.tar"
    build(stages, out, dockerfile=dockerfile)
    assert source(Archive(out).provenance()) == {
        "path": shown,
        "digest": {"sha256": hashlib.sha256(dockerfile.read_bytes()).hexdigest()},
    }


# --- times -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source_date_epoch, timestamp, expected",
    [
        (None, None, EPOCH),
        ("1600000000", None, "2020-09-13T12:26:40Z"),
        (None, "1700000000", "2023-11-14T22:13:20Z"),
        ("1600000000", "1700000000", "2023-11-14T22:13:20Z"),  # --timestamp wins
    ],
)
def test_times_follow_the_timestamp_policy(
    stages, tmp_path, source_date_epoch, timestamp, expected
):
    out = tmp_path / "o.tar"
    result = build(stages, out, source_date_epoch=source_date_epoch, timestamp=timestamp)
    metadata = Archive(out).provenance()["runDetails"]["metadata"]
    assert metadata == {"startedOn": expected, "finishedOn": expected}
    assert json.loads(result.written.config)["created"] == expected


def test_source_date_epoch_from_the_environment(stages, tmp_path):
    out = tmp_path / "o.tar"
    result = CliRunner().invoke(
        cli,
        ["--provenance", "-o", f"type=oci,dest={out}", str(stages)],
        env={"SOURCE_DATE_EPOCH": "1600000000"},
    )
    assert result.exit_code == 0, result.output
    metadata = Archive(out).provenance()["runDetails"]["metadata"]
    assert metadata == {"startedOn": "2020-09-13T12:26:40Z", "finishedOn": "2020-09-13T12:26:40Z"}


def test_timestamp_now_gives_the_build_times(stages, tmp_path):
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(time.time())))
    out = tmp_path / "o.tar"
    build(stages, out, timestamp="now")
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    metadata = Archive(out).provenance()["runDetails"]["metadata"]
    assert before <= metadata["startedOn"] <= metadata["finishedOn"] <= after


# --- materials: base images, downloads, the context ------------------------------------------


@pytest.mark.parametrize(
    "kind, output, named",
    [
        ("oci-layout", "type=oci-dir,dest={path}", "oci-layout://{path}"),
        ("docker-archive", "type=docker,dest={path}", "docker-archive:{path}"),
        ("oci-archive", "type=oci,dest={path}", "oci-archive:{path}"),
    ],
)
def test_a_local_base_image_is_a_dependency_with_its_manifest_digest(tmp_path, kind, output, named):
    base_context = write(
        tmp_path / "base", {"Dockerfile": "FROM scratch\nCOPY b.txt /b\n", "b.txt": "base\n"}
    )
    path = tmp_path / "base-image"
    base = api.build(
        api.BuildOptions(
            context=base_context,
            tags=("base:1",),
            output=parse_output(output.format(path=path)),
            cache_dir=None,
            platform="linux/amd64",
            source_date_epoch=None,
        )
    )
    context = write(tmp_path / "ctx", {"Dockerfile": "FROM base\nCOPY a.txt /a\n", "a.txt": "a"})
    out = tmp_path / "o.tar"
    build(context, out, build_contexts=(f"base={named.format(path=path)}",))
    predicate = Archive(out).provenance()
    (found,) = [
        item
        for item in predicate["buildDefinition"]["resolvedDependencies"]
        if item.get("uri", "").startswith(kind)
    ]
    # Named by the file's name alone: no path of the building machine goes into the image.
    assert found["uri"] == f"{kind}:{path.name}" and str(path.parent) not in json.dumps(found)
    assert found["digest"] == {"sha256": base.written.manifest_digest.split(":", 1)[1]}


def test_a_docker_archive_without_an_oci_manifest_is_named_by_its_image_id(tmp_path):
    base = tmp_path / "base.tar"
    synthetic_archive(base)  # manifest.json only, as docker save before Docker 25 wrote
    with tarfile.open(base) as tar:
        image_id = hashlib.sha256(tar.extractfile("config.json").read()).hexdigest()
    context = write(tmp_path / "ctx", {"Dockerfile": "FROM base\nCOPY a.txt /a\n", "a.txt": "a"})
    out = tmp_path / "o.tar"
    build(context, out, build_contexts=(f"base=docker-archive:{base}",))
    found = dependency(Archive(out).provenance(), uri=f"docker-archive:{base.name}")
    assert found["digest"] == {"sha256": image_id}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("served")
    (root / "tool.txt").write_bytes(b"downloaded for provenance\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_added_url_is_a_dependency_with_its_sha256(tmp_path, served):
    hex_digest = hashlib.sha256(b"downloaded for provenance\n").hexdigest()
    url = f"{served}/tool.txt"
    context = write(
        tmp_path / "ctx",
        {"Dockerfile": f"FROM scratch\nADD --checksum=sha256:{hex_digest} {url} /tool.txt\n"},
    )
    out = tmp_path / "o.tar"
    build(context, out)
    assert dependency(Archive(out).provenance(), uri=url)["digest"] == {"sha256": hex_digest}


def context_digest(context: Path, out: Path) -> str:
    build(context, out)
    return dependency(Archive(out).provenance(), name="context")["digest"]["sha256"]


def test_the_context_digest_follows_contents_not_times_nor_ignored_files(tmp_path):
    context = write(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM scratch\nCOPY . /src/\n",
            ".dockerignore": "cache/\n*.log\n",
            "a.txt": "a\n",
            "sub/b.txt": "b\n",
        },
    )
    out = tmp_path / "o.tar"
    first = context_digest(context, out)
    assert len(first) == 64
    for path in [context / "a.txt", context / "sub", context / "sub" / "b.txt", context]:
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert context_digest(context, out) == first
    write(context, {"cache/big.bin": b"\0" * 1000, "cache/deep/x": "x", "debug.log": "x"})
    assert context_digest(context, out) == first
    write(context, {"cache/big.bin": b"\1" * 10, "debug.log": "changed"})
    assert context_digest(context, out) == first
    write(context, {"sub/b.txt": "B\n"})
    changed = context_digest(context, out)
    assert changed != first
    write(context, {"sub/b.txt": "b\n"})  # back as it was: the same digest again
    assert context_digest(context, out) == first
    write(context, {"sub/more.log": ""})  # *.log is the root's only, as in Docker
    assert context_digest(context, out) not in (first, changed)


# --- a git checkout as the context -----------------------------------------------------------

REMOTE = "https://user:secret@example.invalid/x.git"


@pytest.mark.parametrize(
    "remote, shown",
    [
        (REMOTE, "https://example.invalid/x.git"),
        ("https://ghp_token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://u:p%40ss@example.invalid:8443/r.git", "https://example.invalid:8443/r.git"),
        ("https://u:p@ss@example.invalid/r.git", "https://example.invalid/r.git"),
        ("ssh://git:pw@example.invalid/r.git", "ssh://example.invalid/r.git"),
        ("https://example.invalid/r.git", "https://example.invalid/r.git"),
        ("git@example.invalid:o/r.git", "ssh://example.invalid/o/r.git"),  # scp-like
        ("https://example.invalid/r.git?access_token=x#frag", "https://example.invalid/r.git"),
        ("/home/me/src/repo", ""),  # a clone of a local directory: nothing to publish
        ("file:///home/me/src/repo", ""),
        ("", ""),
    ],
)
def test_credentials_are_taken_out_of_remote_urls(remote, shown):
    assert without_credentials(remote) == shown


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout with one commit whose origin has credentials in its URL (never contacted)."""
    root = write(
        tmp_path / "repo",
        {
            "Dockerfile": "FROM scratch\nCOPY a.txt /a\n",
            "a.txt": "a\n",
            "sub/Dockerfile": "FROM scratch\nCOPY b.txt /b\n",
            "sub/b.txt": "b\n",
        },
    )
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    git(root, "remote", "add", "origin", REMOTE)
    return root


def test_a_clean_checkout_gives_the_remote_without_credentials_and_the_revision(checkout, tmp_path):
    revision = git(checkout, "rev-parse", "HEAD")
    out = tmp_path / "o.tar"
    build(checkout, out)
    predicate = Archive(out).provenance()
    assert source(predicate)["uri"] == "https://example.invalid/x.git"
    assert source(predicate)["revision"] == revision
    assert dependency(predicate, uri="https://example.invalid/x.git")["digest"] == {
        "gitCommit": revision
    }
    assert b"secret" not in Archive(out).everything()
    # git is asked without refreshing its index: .git (part of the context) is left as it was,
    # so a rebuild after a touch gives the same bytes.
    index = (checkout / ".git" / "index").read_bytes()
    os.utime(checkout / "a.txt", (1_000_000_000, 1_000_000_000))
    again = tmp_path / "again.tar"
    build(checkout, again)
    assert (checkout / ".git" / "index").read_bytes() == index
    assert again.read_bytes() == out.read_bytes()
    assert git(checkout, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    "change",
    [{"a.txt": "changed\n"}, {"untracked.txt": "new\n"}],
    ids=["modified", "untracked"],
)
def test_a_dirty_checkout_says_so_in_the_revision(checkout, tmp_path, change):
    revision = git(checkout, "rev-parse", "HEAD")
    write(checkout, change)
    out = tmp_path / "o.tar"
    build(checkout, out)
    assert source(Archive(out).provenance())["revision"] == f"{revision}-dirty"


def test_an_untracked_file_is_dirty_whatever_the_checkouts_status_config(checkout, tmp_path):
    git(checkout, "config", "status.showUntrackedFiles", "no")
    revision = git(checkout, "rev-parse", "HEAD")
    write(checkout, {"untracked.txt": "new\n"})
    out = tmp_path / "o.tar"
    build(checkout, out)
    assert source(Archive(out).provenance())["revision"] == f"{revision}-dirty"


def test_a_subdirectory_of_a_checkout_has_no_vcs_information(checkout, tmp_path):
    out = tmp_path / "o.tar"
    build(checkout / "sub", out)
    predicate = Archive(out).provenance()
    assert set(source(predicate)) == {"path", "digest"}
    assert [
        item for item in predicate["buildDefinition"]["resolvedDependencies"] if "uri" in item
    ] == []
    assert b"example.invalid" not in Archive(out).everything()


def test_the_checkouts_fsmonitor_and_hooks_are_not_run(checkout, tmp_path):
    """A checkout's config names programs git would run: pybuild's git must run none."""
    marker, hooked = tmp_path / "fsmonitor-ran", tmp_path / "hook-ran"
    git(checkout, "config", "core.fsmonitor", f"touch {marker}; false")
    hook = checkout / ".git" / "hooks" / "post-index-change"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(f"#!/bin/sh\ntouch {hooked}\n")
    hook.chmod(0o755)
    os.utime(checkout / "a.txt", (1_000_000_000, 1_000_000_000))  # git must look again
    out = tmp_path / "o.tar"
    build(checkout, out)
    assert source(Archive(out).provenance())["revision"] == git(checkout, "rev-parse", "HEAD")
    assert not marker.exists() and not hooked.exists()
    git(checkout, "status")  # the traps are real: git itself, as configured, springs them
    assert marker.exists() and hooked.exists()


def test_the_checkouts_clean_filter_is_not_run(checkout, tmp_path):
    marker = tmp_path / "filter-ran"
    (checkout / ".git" / "info").mkdir(exist_ok=True)
    (checkout / ".git" / "info" / "attributes").write_text("* filter=trap\n")
    git(checkout, "config", "filter.trap.clean", f"touch {marker}; cat")
    os.utime(checkout / "a.txt", (1_000_000_000, 1_000_000_000))  # git must look again
    build(checkout, tmp_path / "o.tar")
    ran = marker.exists()
    git(checkout, "status")  # the trap is real
    assert marker.exists()
    assert not ran


# --- reproducible bytes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sbom, provenance", [("spdx", "min"), ("cyclonedx", "max"), ("spdx", None)]
)
def test_equal_inputs_give_byte_identical_archives(stages, tmp_path, sbom, provenance):
    one, two = tmp_path / "one.tar", tmp_path / "two.tar"
    build(stages, one, sbom=sbom, provenance=provenance, build_args=("V=1",))
    os.utime(stages / "a.txt", (1_000_000_000, 1_000_000_000))
    build(stages, two, sbom=sbom, provenance=provenance, build_args=("V=1",))
    assert one.read_bytes() == two.read_bytes()
    expected = {CYCLONEDX if sbom == "cyclonedx" else SPDX} | ({SLSA} if provenance else set())
    (image,) = Archive(one).images()
    assert set(Archive(one).statements(image["digest"])) == expected


def test_the_command_line_gives_byte_identical_archives(stages, tmp_path):
    one, two = tmp_path / "one.tar", tmp_path / "two.tar"
    for out in (one, two):
        flags = ["--sbom=format=cyclonedx", "--provenance=mode=max", "--platform", "linux/amd64"]
        in_process(*flags, "-o", f"type=oci,dest={out}", str(stages))
    assert one.read_bytes() == two.read_bytes()


@pytest.mark.parametrize("sbom", ["spdx", "cyclonedx"])
def test_the_same_context_elsewhere_gives_byte_identical_archives(stages, tmp_path, sbom):
    elsewhere = tmp_path / "elsewhere" / "ctx"
    shutil.copytree(stages, elsewhere)
    one, two = tmp_path / "one.tar", tmp_path / "two.tar"
    build(stages, one, sbom=sbom)
    build(elsewhere, two, sbom=sbom)
    (image,) = Archive(one).images()
    statements = json.dumps(Archive(one).statements(image["digest"]))
    assert str(tmp_path) not in statements, "a path of the build machine"
    assert one.read_bytes() == two.read_bytes()


# --- several platforms -----------------------------------------------------------------------


def test_each_platform_has_its_own_attestations_about_its_own_image(tmp_path):
    context = write(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM scratch\nARG TARGETARCH\nCOPY app-${TARGETARCH} /app\n",
            "app-amd64": "the amd64 build\n",
            "app-arm64": "the arm64 build\n",
        },
    )
    out = tmp_path / "o.tar"
    build(context, out, sbom="spdx", provenance="max", platform="linux/amd64,linux/arm64")
    archive = Archive(out)
    images = archive.images()
    assert [image["platform"]["architecture"] for image in images] == ["amd64", "arm64"]
    entries = archive.attestation_entries()
    assert len(entries) == 2
    assert sorted(entry["annotations"][REFERENCE_DIGEST] for entry in entries) == sorted(
        image["digest"] for image in images
    )
    for entry in entries:
        about = entry["annotations"][REFERENCE_DIGEST]
        assert entry["platform"] == {"os": "unknown", "architecture": "unknown"}
        assert archive.json(entry["digest"])["subject"]["digest"] == about
    for image in images:
        arch = image["platform"]["architecture"]
        statements = archive.statements(image["digest"])
        assert set(statements) == {SPDX, SLSA}
        for statement in statements.values():
            subjects = [item["digest"] for item in statement["subject"]]
            assert subjects == [{"sha256": image["digest"].split(":", 1)[1]}]
        provenance = statements[SLSA]["predicate"]
        assert request_args(provenance)["platform"] == f"linux/{arch}"
        config = archive.json(archive.json(image["digest"])["config"]["digest"])
        layers = provenance["buildDefinition"]["internalParameters"]["layers"]
        assert [item["diffID"] for item in layers] == config["rootfs"]["diff_ids"]
        files = statements[SPDX]["predicate"]["files"]
        (app,) = [item for item in files if item["fileName"] == "./app"]
        checksums = {item["algorithm"]: item["checksumValue"] for item in app["checksums"]}
        content = (context / f"app-{arch}").read_bytes()
        assert checksums["SHA256"] == hashlib.sha256(content).hexdigest()
    printed = in_process("inspect", "--provenance", "--platform", "linux/arm64", str(out))
    assert request_args(json.loads(printed))["platform"] == "linux/arm64"


# --- found in review: what a hostile or odd checkout must not do --------------------------------


def test_a_git_file_naming_a_repository_elsewhere_gives_no_vcs_facts(tmp_path):
    """A `.git` file (worktrees, submodules) points outside the context: not read."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    git(elsewhere, "init", "-q")
    git(elsewhere, "remote", "add", "origin", "https://example.invalid/private.git")
    (elsewhere / "f").write_text("f")
    git(elsewhere, "add", "f")
    git(elsewhere, "commit", "-qm", "c")
    context = write(tmp_path / "ctx", {"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "a"})
    (context / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
    build(context, tmp_path / "o.tar")
    predicate = Archive(tmp_path / "o.tar").provenance()
    assert "private" not in json.dumps(predicate) and "revision" not in source(predicate)


def test_core_worktree_does_not_point_git_elsewhere(tmp_path):
    context = write(tmp_path / "ctx", {"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "a"})
    git(context, "init", "-q")
    git(context, "add", ".")
    git(context, "commit", "-qm", "c")
    (tmp_path / "other").mkdir()
    git(context, "config", "core.worktree", str(tmp_path / "other"))
    build(context, tmp_path / "o.tar")
    assert not source(Archive(tmp_path / "o.tar").provenance())["revision"].endswith("-dirty")


def test_the_context_digest_leaves_out_git_and_pruned_ignored_directories(tmp_path):
    context = write(
        tmp_path / "ctx",
        {"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "a", ".dockerignore": "cache\n"},
    )
    git(context, "init", "-q")
    git(context, "add", ".")
    git(context, "commit", "-qm", "c")
    first = context_digest(context, tmp_path / "1.tar")
    (context / ".git" / "objects" / "pack-like").write_bytes(b"git gc rewrote me")
    (context / "cache").mkdir()
    (context / "cache" / "big").write_bytes(b"x" * 1000)
    assert context_digest(context, tmp_path / "2.tar") == first


def test_a_pipe_dockerfile_is_named_dash(tmp_path):
    """`-f <(...)` is /dev/fd/N: no name to give, and not the descriptor's number."""
    from pybuild.attest.attach import BuildFacts
    from pybuild.build.context import BuildContext

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    facts = BuildFacts(
        fifo, "FROM scratch\n", BuildContext(tmp_path), started=EPOCH, finished=EPOCH
    )
    assert facts.shown_dockerfile == "-"


def test_the_last_of_the_flags_and_attest_items_wins_as_in_buildx():
    from pybuild.attest.options import parse_attest
    from pybuild.cli import with_attest_values

    args = with_attest_values(
        ["build", "--attest", "type=provenance,mode=max", "--provenance", "--sbom", "."]
    )
    items = tuple(args[i + 1] for i, arg in enumerate(args) if arg == "--attest")
    assert parse_attest(items).provenance == "min" and parse_attest(items).sbom == "spdx"
    args = with_attest_values(["build", "--provenance", "--provenance=mode=max", "."])
    items = tuple(args[i + 1] for i, arg in enumerate(args) if arg == "--attest")
    assert parse_attest(items).provenance == "max"


def test_attestations_refuse_docker_media_types(tmp_path):
    context = write(tmp_path / "ctx", {"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "a"})
    with pytest.raises(UsageError, match="oci-mediatypes=false"):
        api.build(
            api.BuildOptions(
                context=context,
                tags=("127.0.0.1:1/x:1",),
                output=parse_output("type=registry,oci-mediatypes=false"),
                attest=AttestOptions(sbom="spdx"),
            )
        )
