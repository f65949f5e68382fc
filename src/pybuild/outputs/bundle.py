"""`-o type=bundle,dest=DIR`: an OCI runtime bundle that `runc run --bundle DIR ID` runs.

`rootfs/` is the image's layers applied in order, as a runtime's snapshotter would: whiteouts
(`.wh.NAME`) delete, opaque markers (`.wh..wh..opq`) hide what lower layers put in a directory,
and nothing is ever written outside rootfs or through a symlink. `config.json` follows the OCI
runtime spec: process args are Entrypoint + Cmd, with the image's Env, WorkingDir and User,
no terminal, and the usual mounts and namespaces.

As root, files get the owners the image says; as another user they keep the invoking user's
(chown would fail) and setuid/setgid bits are dropped, and runc must then run rootless."""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from ..oci.compression import Compression
from ..errors import ContextError, UsageError
from ..oci.model import ImageSpec
from ..oci.layer import HashingWriter, Layer, LayerBlob, write_layer_tar
from ..oci.reference import Reference
from .write import WrittenImage, documents
from ..oci.layout import directory_in_place

WHITEOUT, OPAQUE = ".wh.", ".wh..wh..opq"
CAPABILITIES = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def _inside(rootfs: Path, name: str) -> Path:
    """rootfs/name, refusing `..` escapes and parents that are symlinks."""
    relative = posixpath.normpath("/" + name).lstrip("/")
    if not relative or relative == ".":
        return rootfs
    current = rootfs
    for part in relative.split("/")[:-1]:
        current = current / part
        if current.is_symlink():
            raise ContextError(f"layer entry {name} would be written through the symlink "
                               f"/{current.relative_to(rootfs)}")
    return rootfs / relative


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def apply_layer(stream: BinaryIO, rootfs: Path, as_root: bool) -> None:
    """Apply one layer tar (uncompressed stream) on top of rootfs."""
    directories: list[tuple[Path, tarfile.TarInfo]] = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            target = _inside(rootfs, member.name)
            base = target.name
            if base == OPAQUE:
                for child in list(target.parent.iterdir()) if target.parent.is_dir() else []:
                    _remove(child)
                continue
            if base.startswith(WHITEOUT):
                _remove(target.with_name(base[len(WHITEOUT):]))
                continue
            if member.isdir():
                if not target.is_dir() or target.is_symlink():
                    _remove(target)
                    target.mkdir(parents=True, exist_ok=True)
                directories.append((target, member))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _remove(target)
            if member.issym():
                os.symlink(member.linkname, target)
            elif member.islnk():
                os.link(_inside(rootfs, member.linkname), target)
            elif member.isreg():
                with open(target, "wb") as out:
                    shutil.copyfileobj(tar.extractfile(member), out, 1 << 20)
            else:
                continue  # devices and FIFOs: a runtime creates /dev itself
            _finish(target, member, as_root)
    for target, member in reversed(directories):  # after their contents, so mtimes stick
        _finish(target, member, as_root)


def _finish(target: Path, member: tarfile.TarInfo, as_root: bool) -> None:
    mode = member.mode if as_root else member.mode & 0o1777
    if as_root:
        os.chown(target, member.uid, member.gid, follow_symlinks=False)
    if not member.issym():
        os.chmod(target, mode)
        os.utime(target, (member.mtime, member.mtime))


def _user(config: dict[str, Any], rootfs: Path) -> dict[str, int]:
    """The image's User as numbers, looked up in rootfs /etc/passwd and /etc/group if named."""
    user, _, group = (config.get("User") or "0").partition(":")

    def lookup(name: str, table: str, field: int) -> int:
        if name.isdigit():
            return int(name)
        path = rootfs / "etc" / table
        for line in path.read_text().splitlines() if path.is_file() else []:
            fields = line.split(":")
            if len(fields) > field and fields[0] == name:
                return int(fields[field])
        raise UsageError(f"USER {config.get('User')}: no {name!r} in the image's /etc/{table}")

    uid = lookup(user, "passwd", 2)
    if group:
        gid = lookup(group, "group", 2)
    elif user.isdigit():
        gid = 0
    else:
        gid = lookup(user, "passwd", 3)
    return {"uid": uid, "gid": gid}


def runtime_config(image_config: dict[str, Any], rootfs: Path) -> dict[str, Any]:
    """config.json for runc (OCI runtime spec 1.0.2) from the image config."""
    args = list(image_config.get("Entrypoint") or []) + list(image_config.get("Cmd") or [])
    if not args:
        raise UsageError("the image has neither ENTRYPOINT nor CMD: a bundle needs a process to run")
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": _user(image_config, rootfs),
            "args": args,
            "env": list(image_config.get("Env") or []),
            "cwd": image_config.get("WorkingDir") or "/",
            "capabilities": {kind: list(CAPABILITIES) for kind in
                             ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "pybuild",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def write_bundle(spec: ImageSpec, refs: list[Reference], path: Path) -> WrittenImage:
    """Build the bundle beside `path`, then put it in place (replacing an earlier bundle only)."""
    as_root = os.geteuid() == 0
    with directory_in_place(path, "config.json", "a runtime bundle") as building:
        rootfs = building / "rootfs"
        rootfs.mkdir()
        os.chmod(rootfs, 0o755)
        blobs = []
        for layer in spec.layers:
            if not isinstance(layer, Layer):  # a base image's layer: its tar is at hand
                blobs.append(LayerBlob(layer.diff_id, layer.diff_id, layer.tar.stat().st_size))
                with open(layer.tar, "rb") as tar:
                    apply_layer(tar, rootfs, as_root)
                continue
            with tempfile.TemporaryFile(dir=building) as spool:  # hashed on the way in, then applied
                hashed = HashingWriter(spool)
                write_layer_tar(layer, hashed)
                blobs.append(LayerBlob(hashed.digest, hashed.digest, hashed.size))
                spool.seek(0)
                apply_layer(spool, rootfs, as_root)
        docs = documents(spec, refs, blobs, Compression(), docker=False)
        config = runtime_config(spec.config, rootfs)
        (building / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return WrittenImage(docs.image_id, docs.manifest_digest, tuple(blobs), docs.config)
