"""Where pybuild keeps its cache, and the cheap identity of a file (size, times, inode) that says
it has not changed. Standard library only: the up-to-date answer (recording.py) imports this
before anything else is loaded, and the blob store (oci/blobstore.py) keys layers by it."""

from __future__ import annotations

import os


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/pybuild, else ~/.cache/pybuild."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pybuild")


def file_stat(path: str | os.PathLike[str]) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return stat_identity(info)


def stat_identity(info: os.stat_result) -> list[int]:
    """What tells one file's content from another's, short of reading it."""
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns, info.st_dev]
