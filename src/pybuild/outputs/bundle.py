"""`-o type=bundle,dest=DIR`: an OCI runtime bundle that `runc run --bundle DIR ID` runs.

`rootfs/` is the union of the image's layers (oci/rootfs.py, the same view COPY --from, inspect
and explain use: whiteouts and opaque directories applied, hard links kept), written once, so a
file a later layer deletes is never written at all; nothing is written outside rootfs or
through a symlink. `config.json` follows the OCI runtime spec: process args are Entrypoint +
Cmd, with the image's Env, WorkingDir and User, no terminal, and the usual mounts and
namespaces.

As root, files get the owners the image says; as another user they keep the invoking user's
(chown would fail) and setuid/setgid bits are dropped, and runc must then run rootless."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ContextError, UsageError
from ..oci.compression import Compression
from ..oci.layer import LayerEntry, tar_digests
from ..oci.layout import documents
from ..oci.model import Image, RunConfig, WrittenImage
from ..oci.reference import Reference
from ..oci.rootfs import RootFS, follow_symlinks, union
from .export import Exporting
from .files import directory_in_place
from .spec import OutputSpec

CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]


def _inside(root: Path, path: str) -> Path:
    """root/path, refusing parents that are symlinks (paths of a union are clean already)."""
    current = root
    for part in path.split("/")[:-1]:
        current = current / part
        if current.is_symlink():
            raise ContextError(
                f"layer entry /{path} would be written through the symlink "
                f"/{current.relative_to(root)}"
            )
    return root / path


def write_rootfs(rootfs: RootFS, root: Path, as_root: bool) -> None:
    """Write the union's files under `root` (an empty directory): each file once, hard links
    as links, directories' modes and times set after their contents."""
    first_of_group: dict[str, Path] = {}
    directories: list[tuple[Path, LayerEntry]] = []
    for entry in rootfs.files():
        target = _inside(root, entry.path)
        if entry.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
            directories.append((target, entry))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.kind == "symlink":
            os.symlink(entry.linkname, target)
        elif entry.link_group in first_of_group:
            os.link(first_of_group[entry.link_group], target)
            continue
        else:
            with open(target, "wb") as out:
                entry.copy_to(out)
            if entry.link_group:
                first_of_group[entry.link_group] = target
        _finish(target, entry, as_root)
    for target, entry in reversed(directories):  # after their contents, so mtimes stick
        _finish(target, entry, as_root)


def _finish(target: Path, entry: LayerEntry, as_root: bool) -> None:
    if as_root:
        os.chown(target, entry.uid, entry.gid, follow_symlinks=False)
    if entry.kind != "symlink":
        os.chmod(target, entry.mode if as_root else entry.mode & 0o1777)
        os.utime(target, (entry.mtime, entry.mtime))


def _user(config: RunConfig, rootfs: Path) -> dict[str, int]:
    """The image's User as numbers, looked up in rootfs /etc/passwd and /etc/group if named."""
    user, _, group = (config.user or "0").partition(":")

    def read_link(candidate: str) -> str | None:
        path = rootfs / candidate
        return os.readlink(path) if path.is_symlink() else None

    def lookup(name: str, table: str, field: int) -> int:
        if name.isdigit():
            return int(name)
        # The image's /etc/passwd may be a link: followed inside rootfs, never to the host's.
        path = rootfs / follow_symlinks(f"etc/{table}", read_link)
        for line in path.read_text().splitlines() if path.is_file() else []:
            fields = line.split(":")
            if len(fields) > field and fields[0] == name:
                return int(fields[field])
        raise UsageError(f"USER {config.user}: no {name!r} in the image's /etc/{table}")

    uid = lookup(user, "passwd", 2)
    if group:
        gid = lookup(group, "group", 2)
    elif user.isdigit():
        gid = 0
    else:
        gid = lookup(user, "passwd", 3)
    return {"uid": uid, "gid": gid}


def runtime_config(config: RunConfig, rootfs: Path) -> dict[str, Any]:
    """config.json for runc (OCI runtime spec 1.0.2) from the image's run config."""
    args = list(config.entrypoint or ()) + list(config.cmd or ())
    if not args:
        raise UsageError(
            "the image has neither ENTRYPOINT nor CMD: a bundle needs a process to run"
        )
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": _user(config, rootfs),
            "args": args,
            "env": list(config.env or ()),
            "cwd": config.working_dir or "/",
            "capabilities": {
                kind: list(CAPABILITIES) for kind in ("bounding", "effective", "permitted")
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "pybuild",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": [
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            },
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }


def export(
    images: list[Image], refs: list[Reference], spec: OutputSpec, *, using: Exporting
) -> WrittenImage:
    """Build the bundle beside dest, then put it in place (replacing an earlier bundle only)."""
    assert spec.dest is not None
    if len(images) > 1:
        raise UsageError(
            "-o type=bundle holds one platform's image: for several platforms use -o type=docker, "
            "oci or oci-dir, or --push (or build one --platform at a time)"
        )
    (image,) = images
    uncompressed = Compression()
    blobs = [
        tar_digests(layer, using.cache) for layer in image.layers
    ]  # the image ID needs every diff_id
    with directory_in_place(Path(spec.dest), "bundle") as building:
        rootfs = building / "rootfs"
        rootfs.mkdir()
        os.chmod(rootfs, 0o755)
        write_rootfs(union(layer.entries for layer in image.layers), rootfs, os.geteuid() == 0)
        config = runtime_config(image.config.run, rootfs)
        (building / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return documents(image, refs, blobs, compression=uncompressed, docker=False).written(blobs)
