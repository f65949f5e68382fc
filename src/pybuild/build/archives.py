"""ADD's local archives: recognised by content, as Docker does (never by file name), and turned
into layer entries without unpacking anything to disk. A compressed tar is decompressed once
into the build's scratch directory; every member then points at its bytes inside that tar."""

from __future__ import annotations

import posixpath
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ContextError
from ..oci.compression import decompressed, decompression_errors, sniff
from ..oci.layer import member_path


def _is_tar_header(block: bytes) -> bool:
    if len(block) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(block[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def archive_kind(path: Path) -> str | None:
    """'tar', 'gzip', 'bzip2', 'xz' or 'zstd' (the tar's compression) when ADD would extract the
    file; None when it would copy it."""
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        head = handle.read(tarfile.BLOCKSIZE)
    kind = sniff(head)
    if kind is None:
        return "tar" if _is_tar_header(head) else None
    try:
        with decompressed(open(path, "rb"), kind) as stream:
            return kind if _is_tar_header(stream.read(tarfile.BLOCKSIZE)) else None
    except decompression_errors():
        return None


def uncompressed_tar(path: Path, kind: str, scratch: Path) -> Path:
    """The archive as a plain tar: itself, or decompressed once into `scratch`."""
    if kind == "tar":
        return path
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".tar", delete=False) as out:
        try:
            with decompressed(open(path, "rb"), kind) as stream:
                shutil.copyfileobj(stream, out, 1 << 20)
        except decompression_errors() as error:
            raise ContextError(f"cannot decompress {path.name} ({kind}): {error}") from None
    return Path(out.name)


@dataclass(frozen=True)
class Member:
    """One archive member, as it would land in the image below the destination."""

    path: str  # relative to the destination, cleaned
    kind: str  # file, dir or symlink (hard links become files with their target's bytes)
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str
    offset: int  # where a file's bytes start in the uncompressed tar (hard links share it)


def archive_members(tar_path: Path, shown_name: str) -> list[Member]:
    """The members of an uncompressed tar, refusing any that would land outside the
    destination (an absolute or `..` path, or a path through a symlink of the archive)."""
    members: dict[str, Member] = {}
    try:
        with tarfile.open(tar_path, "r:") as tar:
            for info in tar:
                path = _inside(info.name, shown_name)
                if path == "":
                    continue
                if info.islnk():
                    target = members.get(_inside(info.linkname, shown_name))
                    if target is None or target.kind != "file":
                        raise ContextError(
                            f"{shown_name}: hard link {info.name} points at "
                            f"{info.linkname}, which is not an earlier file"
                        )
                    members[path] = Member(
                        path,
                        "file",
                        info.mode,
                        info.uid,
                        info.gid,
                        target.size,
                        int(info.mtime),
                        "",
                        target.offset,
                    )
                    continue
                kind = (
                    "file"
                    if info.isreg()
                    else "dir"
                    if info.isdir()
                    else "symlink"
                    if info.issym()
                    else None
                )
                if kind is None:
                    raise ContextError(
                        f"{shown_name}: {info.name} is a device or FIFO, "
                        "which pybuild cannot put in an image yet"
                    )
                if info.issparse():  # its stored bytes are a map of holes, not the file
                    raise ContextError(
                        f"{shown_name}: {info.name} is stored sparse (tar --sparse), which "
                        "pybuild cannot expand yet; pack the archive without --sparse"
                    )
                members[path] = Member(
                    path,
                    kind,
                    info.mode,
                    info.uid,
                    info.gid,
                    info.size if kind == "file" else 0,
                    int(info.mtime),
                    info.linkname if kind == "symlink" else "",
                    info.offset_data,
                )
    except tarfile.TarError as error:
        raise ContextError(f"{shown_name} is not a readable tar archive: {error}") from None
    links = {path for path, member in members.items() if member.kind == "symlink"}
    for path in members:
        parent = posixpath.dirname(path)
        while parent:
            if parent in links:
                raise ContextError(
                    f"{shown_name}: {path} would be extracted through the "
                    f"symlink {parent}, possibly outside the destination"
                )
            parent = posixpath.dirname(parent)
    return list(members.values())


def _inside(name: str, shown_name: str) -> str:
    """A member name as a clean path below the destination ('' for the destination itself);
    absolute names count from the destination, as tar extracts them."""
    path = member_path(name)
    if path is None:
        raise ContextError(
            f"{shown_name}: member {name} would be extracted outside the destination"
        )
    return path
