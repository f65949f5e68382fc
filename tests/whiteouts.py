"""An image written by a real `docker save` whose layers delete files, and what a container of
it really holds (the oracle), so pybuild's views of such images can be checked against Docker."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from engine import RUNTIME_PATHS

BASE_TAG = "pybuild-whiteouts-base:1"
TAG = "pybuild-whiteouts:1"
OPAQUE = ".wh..wh..opq"


def _file(name: str, data: bytes = b"", mode: int = 0o644, uid: int = 0) -> tuple:
    return (name, tarfile.REGTYPE, data, mode, uid)


def _symlink(name: str, target: str) -> tuple:
    return (name, tarfile.SYMTYPE, target, 0o777, 0)


def _hardlink(name: str, target: str) -> tuple:
    return (name, tarfile.LNKTYPE, target, 0o644, 0)


def _whiteout(path: str) -> tuple:
    parent, _, base = path.rpartition("/")
    return _file(f"{parent}/.wh.{base}" if parent else f".wh.{base}")


# Layers written by hand, so every kind of deletion is certainly there: the classic builder on
# vfs diffs directories and never writes an opaque marker (`rm -r dir && mkdir dir` gives one
# `.wh.` per lost child), nor a whiteout at the archive root.
BASE = [
    _file("bin/busybox", Path("/bin/busybox").read_bytes(), 0o755),
    _symlink("bin/sh", "busybox"),
    _file("rootfile", b"deleted at the root\n"),
    _file(".hidden", b"hidden stays\n", 0o600, 1000),
    _file("etc/old.conf", b"old\n"),
    _file("etc/keep.conf", b"keep\n"),
    _file("etc/motd", b"motd v1\n"),
    _file("etc/by-docker.conf", b"removed by RUN\n"),
    _symlink("etc/link.conf", "keep.conf"),
    _file("a/b/c/file", b"deep\n"),
    _file("a/b/c/keep", b"deep keep\n"),
    _file("var/lib/gone/x", b"x\n"),
    _file("var/lib/gone/sub/y", b"y\n"),
    _file("var/lib/stay", b"stay\n"),
    _file("opt/app/old", b"lower\n"),
    _file("opt/app/sub/old", b"lower sub\n"),
    _file("opt/tool/old", b"tool v1\n"),
    _file("srv/old", b"lower srv\n"),
    _file("home/bydocker/notes", b"notes\n"),
    _file("data/original", b"shared by two names\n"),
    _hardlink("data/alias", "data/original"),
    _file("data/twin1", b"twins\n"),
    _hardlink("data/twin2", "data/twin1"),
]
DELETE = [
    _whiteout("rootfile"),
    _whiteout("etc/old.conf"),
    _whiteout("etc/motd"),
    _whiteout("a/b/c/file"),
    _whiteout("var/lib/gone"),
    _whiteout("data/original"),
    _file(f"opt/app/{OPAQUE}"),
    _file("opt/app/new", b"upper\n", 0o640, 33),
    _file("opt/app/sub/mid", b"hidden again by the next layer\n"),
    _file(f"srv/{OPAQUE}"),
    _file("srv/fresh", b"upper srv\n"),
]
RECREATE = [
    _file("etc/motd", b"motd v3\n"),
    _file(f"opt/app/sub/{OPAQUE}"),
    _file("opt/app/sub/top", b"top\n"),
]
# The last layer is Docker's own, so at least some whiteouts are written the way Docker writes them
# (mode 0, type bits in the mode field).
DOCKERFILE = (
    "FROM " + BASE_TAG + "\n"
    "RUN busybox rm /etc/by-docker.conf && busybox rm -r /home/bydocker /opt/tool"
    " && busybox mkdir /opt/tool && echo new > /opt/tool/new\n"
)

# Whiteouts and opaque markers each saved layer must hold (at least these; more is not an error).
MARKERS = [
    set(),
    {
        ".wh.rootfile",
        "etc/.wh.old.conf",
        "etc/.wh.motd",
        "a/b/c/.wh.file",
        "var/lib/.wh.gone",
        "data/.wh.original",
        f"opt/app/{OPAQUE}",
        f"srv/{OPAQUE}",
    },
    {f"opt/app/sub/{OPAQUE}"},
    {"etc/.wh.by-docker.conf", "home/.wh.bydocker", "opt/tool/.wh.old"},
]


def _layer(entries: list[tuple]) -> bytes:
    """A layer tar of the entries; missing parent directories are added first, as 0755 root."""
    buffer, written = io.BytesIO(), set()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload, mode, uid in entries:
            parts = name.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent not in written:
                    written.add(parent)
                    tar.addfile(_info(parent, tarfile.DIRTYPE, 0o755, 0))
            info = _info(name, kind, mode, uid)
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def _info(name: str, kind: bytes, mode: int, uid: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, uid, 1_600_000_000
    return info


def _write_archive(path: Path, layers: list[bytes]) -> None:
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"hand-written layer {n}"} for n in range(len(layers))],
    }
    names = [f"layer{n}.tar" for n in range(len(layers))]
    manifest = [{"Config": "config.json", "RepoTags": [BASE_TAG], "Layers": names}]
    with tarfile.open(path, "w") as tar:
        for name, data in [
            ("config.json", json.dumps(config).encode()),
            *zip(names, layers, strict=True),
            ("manifest.json", json.dumps(manifest).encode()),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _saved_layers(archive: Path) -> list[tarfile.TarFile]:
    """The layer tars of a saved image, in order, checked against the config's diff_ids."""
    outer = tarfile.open(archive)
    manifest = json.load(outer.extractfile("manifest.json"))[0]
    diff_ids = json.load(outer.extractfile(manifest["Config"]))["rootfs"]["diff_ids"]
    layers = [outer.extractfile(name).read() for name in manifest["Layers"]]
    assert ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers] == diff_ids, (
        "docker save wrote layers that do not match its own diff_ids"
    )
    return [tarfile.open(fileobj=io.BytesIO(layer)) for layer in layers]


def _name(member: tarfile.TarInfo) -> str:
    return member.name.removeprefix("./").rstrip("/")


def _oracle(engine, image: str, image_paths: set[str]) -> list[dict]:
    """What `docker export` of a fresh container shows, without what `docker create` adds."""
    container = engine.docker("create", image, "/nothing").stdout.decode().strip()
    try:
        exported = engine.docker("export", container).stdout
    finally:
        engine.docker("rm", container, check=False)
    entries = []
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        for member in tar:
            name = _name(member)
            if not name or (name in RUNTIME_PATHS and name not in image_paths):
                continue
            data = tar.extractfile(member).read() if member.isfile() or member.islnk() else None
            kind = "dir" if member.isdir() else "symlink" if member.issym() else "file"
            entries.append(
                {
                    "path": "/" + name,
                    "type": kind,
                    "mode": f"{member.mode & 0o7777:04o}",
                    "uid": member.uid,
                    "gid": member.gid,
                    "size": len(data) if data is not None else 0,
                    "link": member.linkname if member.issym() else None,
                    "sha256": hashlib.sha256(data).hexdigest() if data is not None else None,
                }
            )
    return sorted(entries, key=lambda entry: entry["path"])


def docker_saved_image_with_deletions(engine, workdir: Path) -> tuple[Path, list[dict]]:
    """Load hand-written layers with every kind of whiteout, add a classic-builder RUN layer that
    deletes files, `docker save` the result; return that archive and the container's files."""
    workdir.mkdir(parents=True, exist_ok=True)
    _write_archive(workdir / "handmade.tar", [_layer(BASE), _layer(DELETE), _layer(RECREATE)])
    engine.load(workdir / "handmade.tar")
    (workdir / "Dockerfile").write_text(DOCKERFILE)
    built = engine.classic_build(workdir, workdir / "Dockerfile", TAG, "--network", "none")
    assert built.returncode == 0, built.stderr.decode()
    archive = workdir / "saved.tar"
    engine.docker("save", "-o", str(archive), TAG)

    layers = _saved_layers(archive)
    assert len(layers) == len(MARKERS), (
        f"expected {len(MARKERS)} layers, docker saved {len(layers)}"
    )
    image_paths = set()
    for number, (layer, wanted) in enumerate(zip(layers, MARKERS, strict=True)):
        names = {_name(member) for member in layer}
        markers = {name for name in names if name.rpartition("/")[2].startswith(".wh.")}
        missing = wanted - markers
        assert not missing, f"docker save dropped from layer {number}: {sorted(missing)}"
        image_paths |= names - markers
    base = {_name(member): member for member in layers[0]}
    assert ".hidden" in base and base["data/alias"].islnk(), "docker save changed the base layer"
    return archive, _oracle(engine, TAG, image_paths)
