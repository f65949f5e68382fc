"""The whiteout fixture's oracle really is what Docker shows: if this fails, the fixture (not
pybuild) is wrong, and tests comparing pybuild against it would prove nothing."""

from __future__ import annotations

import hashlib

import pytest

from whiteouts import docker_saved_image_with_deletions


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.engine
def test_oracle_shows_what_the_whiteouts_leave(engine, tmp_path):
    archive, oracle = docker_saved_image_with_deletions(engine, tmp_path)
    assert archive.is_file()
    files = {entry["path"]: entry for entry in oracle}

    def children(directory: str) -> set[str]:
        return {
            path.removeprefix(directory + "/") for path in files if path.startswith(directory + "/")
        }

    deleted = [
        "/rootfile",
        "/etc/old.conf",
        "/a/b/c/file",
        "/var/lib/gone",
        "/data/original",
        "/etc/by-docker.conf",
        "/home/bydocker",
    ]
    assert [
        path for path in files for gone in deleted if path == gone or path.startswith(gone + "/")
    ] == []
    assert children("/opt/app") == {"new", "sub", "sub/top"}  # opaque twice: lower files hidden
    assert children("/srv") == {"fresh"}  # opaque at the first level
    assert children("/opt/tool") == {"new"}  # removed and re-made by RUN
    assert children("/a/b/c") == {"keep"} and children("/var/lib") == {"stay"}

    assert files["/.hidden"] | {"sha256": None} == {
        "path": "/.hidden",
        "type": "file",
        "mode": "0600",
        "uid": 1000,
        "gid": 1000,
        "size": 13,
        "link": None,
        "sha256": None,
    }
    assert files["/etc/motd"]["sha256"] == sha(b"motd v3\n")
    assert files["/data/alias"]["type"] == "file"
    assert files["/data/alias"]["sha256"] == sha(b"shared by two names\n")
    assert files["/data/twin1"]["sha256"] == files["/data/twin2"]["sha256"] == sha(b"twins\n")
    assert files["/opt/app/new"]["mode"] == "0640" and files["/opt/app/new"]["uid"] == 33
    assert files["/bin/sh"]["link"] == "busybox" and files["/etc/link.conf"]["link"] == "keep.conf"
    assert files["/etc"]["type"] == "dir" and "/etc/hostname" not in files
