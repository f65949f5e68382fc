"""Image archives made by hand for tests: layers with whiteouts and opaque directories."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile


def tar_bytes(members) -> bytes:
    """An uncompressed tar of (name, bytes) regular files, in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def push_sample(ref: str, access, sample: str = "hello") -> None:
    """Build a sample and push it to `ref` with `access` (a RegistryAccess)."""
    from conftest import SAMPLES
    from pybuild import api
    from pybuild.outputs.spec import parse_output

    api.build(
        api.BuildOptions(
            context=SAMPLES / sample,
            tags=(ref,),
            cache_dir=None,
            output=parse_output("type=registry"),
            registry=access,
        )
    )


def synthetic_archive(path):
    """A docker-archive whose second layer deletes a file and replaces a directory."""
    docker_archive(
        path,
        [
            [("etc/old.conf", b"old"), ("var/cache/a", b"a"), ("bin/tool", b"v1")],
            [("etc/.wh.old.conf", b""), ("var/cache/.wh..wh..opq", b""), ("bin/tool", b"v2")],
        ],
        history=["first", "second"],
    )


def docker_archive(path, layers, *, history=None, tag="t:1"):
    """A docker-archive (as `docker save` wrote it before Docker 25) of layers given as lists
    of (name, bytes) regular files, lowest first; its image runs /bin/tool."""
    blobs = [tar_bytes(members) for members in layers]
    diff_ids = ["sha256:" + hashlib.sha256(data).hexdigest() for data in blobs]
    config = {
        "os": "linux",
        "architecture": "amd64",
        "config": {"Cmd": ["/bin/tool"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created_by": text} for text in history or [f"layer {n}" for n in range(len(blobs))]
        ],
    }
    names = [f"l{number}.tar" for number in range(1, len(blobs) + 1)]
    with tarfile.open(path, "w") as tar:
        for name, data in [
            ("config.json", json.dumps(config).encode()),
            *zip(names, blobs, strict=True),
            (
                "manifest.json",
                json.dumps(
                    [{"Config": "config.json", "RepoTags": [tag], "Layers": names}]
                ).encode(),
            ),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


# As Docker 20.10 writes the config of an image built from scratch: null for every unset
# field, and fields the OCI config does not know.
DOCKER_NULL_CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2024-01-01T00:00:00Z",
    "config": {
        "Hostname": "",
        "Domainname": "",
        "User": "",
        "AttachStdin": False,
        "Env": None,
        "Cmd": None,
        "Image": "",
        "Volumes": None,
        "WorkingDir": "",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": None,
        "ExposedPorts": None,
    },
    "rootfs": {"type": "layers", "diff_ids": None},
    "history": None,
}


def docker_archive_with_nulls(path, **run_config):
    """A docker-archive of one layer whose config holds the nulls Docker 20.10 writes for unset
    fields (Env, Cmd, Volumes, Labels, OnBuild, ExposedPorts) and fields OCI does not know;
    `run_config` replaces fields of its `config` (OnBuild=[...], say)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("etc/motd")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    data = buffer.getvalue()
    config = {
        **DOCKER_NULL_CONFIG,
        "config": {**DOCKER_NULL_CONFIG["config"], **run_config},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(data).hexdigest()]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ADD motd"}],
    }
    with tarfile.open(path, "w") as tar:
        for name, member in [
            ("config.json", json.dumps(config).encode()),
            ("l1.tar", data),
            (
                "manifest.json",
                json.dumps(
                    [{"Config": "config.json", "RepoTags": ["n:1"], "Layers": ["l1.tar"]}]
                ).encode(),
            ),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(member)
            tar.addfile(info, io.BytesIO(member))
