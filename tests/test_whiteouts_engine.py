"""A base image whose layers delete files (whiteouts at the root and deeper, a whole directory,
opaque directories, Docker's own whiteouts from a classic-builder RUN), written by a real
`docker save`: every view pybuild has of it is the file system `docker export` shows of a
container. One union of layers (oci/rootfs.py) serves them all; this checks each user of it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from whiteouts import docker_saved_image_with_deletions

FIELDS = ("path", "type", "mode", "uid", "gid", "size", "link")


@pytest.fixture(scope="module")
def saved(engine, tmp_path_factory):
    return docker_saved_image_with_deletions(engine, tmp_path_factory.mktemp("whiteouts"))


def pybuild(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "pybuild", *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result


def context(tmp_path: Path, dockerfile: str) -> Path:
    directory = tmp_path / "ctx"
    directory.mkdir()
    (directory / "Dockerfile").write_text(dockerfile)
    (directory / "x.txt").write_text("x\n")
    return directory


def without_content(rows: list[dict]) -> list[dict]:
    return [{key: row[key] for key in FIELDS} for row in rows]


def tar_rows(tar: tarfile.TarFile) -> list[dict]:
    """A tar's members as oracle rows (hard links as the files they share bytes with)."""
    rows: dict[str, dict] = {}
    for member in tar:
        name = "/" + member.name.removeprefix("./").strip("/")
        if name == "/":
            continue
        if member.islnk():
            rows[name] = dict(rows["/" + member.linkname.removeprefix("./").strip("/")], path=name)
            continue
        data = tar.extractfile(member).read() if member.isreg() else None
        kind = "file" if member.isreg() else "dir" if member.isdir() else "symlink"
        rows[name] = {
            "path": name,
            "type": kind,
            "mode": f"{member.mode & 0o7777:04o}",
            "uid": member.uid,
            "gid": member.gid,
            "size": member.size if data is not None else 0,
            "link": member.linkname if member.issym() else None,
            "sha256": hashlib.sha256(data).hexdigest() if data is not None else None,
        }
    return sorted(rows.values(), key=lambda row: row["path"])


def directory_rows(root: Path) -> list[dict]:
    """A directory tree as oracle rows."""
    rows = []
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(directory, name)
            info = path.lstat()
            kind = (
                "dir"
                if stat.S_ISDIR(info.st_mode)
                else "symlink"
                if stat.S_ISLNK(info.st_mode)
                else "file"
            )
            data = path.read_bytes() if kind == "file" else None
            rows.append(
                {
                    "path": "/" + str(path.relative_to(root)),
                    "type": kind,
                    "mode": f"{stat.S_IMODE(info.st_mode):04o}",
                    "uid": info.st_uid,
                    "gid": info.st_gid,
                    "size": len(data) if data is not None else 0,
                    "link": os.readlink(path) if kind == "symlink" else None,
                    "sha256": hashlib.sha256(data).hexdigest() if data is not None else None,
                }
            )
    return sorted(rows, key=lambda row: row["path"])


@pytest.mark.engine
def test_copy_from_the_base_copies_what_a_container_sees(saved, tmp_path):
    archive, oracle = saved
    ctx = context(tmp_path, "FROM scratch\nCOPY --from=base / /\n")
    out = tmp_path / "copied.tar"
    pybuild(
        "--no-cache",
        "-t",
        "copied:1",
        "-o",
        f"type=oci,dest={out},compression=uncompressed",
        "--build-context",
        f"base=docker-archive:{archive}",
        str(ctx),
    )
    with tarfile.open(out) as image:
        index = json.load(image.extractfile("index.json"))
        manifest = json.load(
            image.extractfile("blobs/" + index["manifests"][0]["digest"].replace(":", "/"))
        )
        (layer,) = manifest["layers"]
        with tarfile.open(
            fileobj=image.extractfile("blobs/" + layer["digest"].replace(":", "/"))
        ) as tar:
            assert tar_rows(tar) == oracle


@pytest.mark.engine
@pytest.mark.skipif(os.geteuid() != 0, reason="the bundle keeps the image's owners only as root")
def test_the_bundle_rootfs_is_what_a_container_sees(saved, tmp_path):
    archive, oracle = saved
    ctx = context(tmp_path, "FROM base\n")
    bundle = tmp_path / "bundle"
    pybuild(
        "--no-cache",
        "-t",
        "b:1",
        "-o",
        f"type=bundle,dest={bundle}",
        "--build-context",
        f"base=docker-archive:{archive}",
        str(ctx),
    )
    assert directory_rows(bundle / "rootfs") == oracle


@pytest.mark.engine
def test_inspect_shows_the_file_system_a_container_sees(saved):
    archive, oracle = saved
    document = json.loads(pybuild("inspect", "--format", "json", str(archive)).stdout)
    assert document["filesystem"] == without_content(oracle)
    deleted = {path for layer in document["layers"] for path in layer["deleted"]}
    assert {"/rootfile", "/etc/old.conf", "/var/lib/gone", "/etc/by-docker.conf"} <= deleted
    assert {"/opt/app", "/srv"} <= {
        path for layer in document["layers"] for path in layer["opaque"]
    }


@pytest.mark.engine
def test_explain_shows_the_file_system_a_container_sees(saved, tmp_path):
    archive, oracle = saved
    ctx = context(tmp_path, "FROM base\nCOPY x.txt /etc/old.conf\n")
    document = json.loads(
        pybuild(
            "explain",
            "--format",
            "json",
            "--build-context",
            f"base=docker-archive:{archive}",
            str(ctx),
        ).stdout
    )
    restored = {
        "path": "/etc/old.conf",
        "type": "file",
        "mode": "0644",
        "uid": 0,
        "gid": 0,
        "size": 2,
        "link": None,
    }
    assert document["filesystem"] == sorted(
        without_content(oracle) + [restored], key=lambda row: row["path"]
    )


@pytest.mark.engine
def test_an_image_built_on_the_base_runs_with_the_same_files(saved, engine, tmp_path):
    """pybuild reuses the base's layers, whiteouts and all: Docker sees the same files, plus
    the one this build adds (a file the base deleted, brought back)."""
    archive, oracle = saved
    ctx = context(tmp_path, "FROM base\nCOPY x.txt /etc/old.conf\n")
    out = tmp_path / "child.tar"
    pybuild(
        "--no-cache",
        "-t",
        "pybuild-whiteouts-child:1",
        "-o",
        str(out),
        "--build-context",
        f"base=docker-archive:{archive}",
        str(ctx),
    )
    engine.load(out)
    container = engine.docker("create", "pybuild-whiteouts-child:1").stdout.decode().strip()
    try:
        exported = engine.docker("export", container).stdout
    finally:
        engine.docker("rm", container)
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        rows = {row["path"]: row for row in tar_rows(tar)}
    assert rows["/etc/old.conf"]["sha256"] == hashlib.sha256(b"x\n").hexdigest()
    for row in oracle:
        assert rows[row["path"]] == row
    assert "/rootfile" not in rows and "/var/lib/gone" not in rows
