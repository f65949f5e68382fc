"""Files as reports show them: one JSON row per entry (path, type, mode, owner, size, link),
and the `ls -l`-like line a terminal shows for it. Shared by `inspect` and `explain`."""

from __future__ import annotations

import stat
from typing import Any

from ..oci.layer import LayerEntry
from ..oci.rootfs import RootFS

KIND_CHARS = {"file": "-", "dir": "d", "symlink": "l", "hardlink": "h"}


def entry_row(entry: LayerEntry) -> dict[str, Any]:
    return {
        "path": "/" + entry.path,
        "type": entry.kind,
        "mode": f"{entry.mode:04o}",
        "uid": entry.uid,
        "gid": entry.gid,
        "size": entry.size if entry.kind == "file" else 0,
        "link": entry.linkname or None,
    }


def file_list(rootfs: RootFS) -> list[dict[str, Any]]:
    """The union's files, sorted; hard links show as the files they are."""
    return [entry_row(entry) for entry in rootfs.files()]


def entry_line(row: dict[str, Any]) -> str:
    """`drwxr-xr-x 0:0      1234 /path -> target`."""
    mode = KIND_CHARS.get(row["type"], "?") + stat.filemode(int(row["mode"], 8))[1:]
    size = f"{row['size']:>9}" if row["type"] == "file" else " " * 9
    link = f" -> {row['link']}" if row["link"] else ""
    return f"{mode} {row['uid']}:{row['gid']} {size} {row['path']}{link}"


def filesystem_lines(rows: list[dict[str, Any]], indent: str) -> list[str]:
    return [indent + entry_line(row) for row in rows] or [f"{indent}(empty)"]
